#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: read_together
short_description: Run several of this collection's modules in check mode, at once, in one task
version_added: 1.1.0
description:
  - >-
    Runs each read in I(reads), a module of this collection with its arguments, in check mode (it reads
    and changes nothing, whatever the play's mode), all at once, and returns each module's result under
    its name. The task lasts as long as the slowest read, not the sum of them: the reads a runbook makes
    before it changes anything (a region probe, where Route 53 answers, the Secrets' check) cost one
    task instead of one each.
  - >-
    Each read is the module's own run (its payload and process, through the task's connection and
    interpreter), with the play's C(module_defaults) for that module applied, as a task of its own would
    have them.
  - >-
    The reads run in threads when the connection pipelines (the collection's C(ansible.cfg) sets
    C(pipelining)); without pipelining they run one after another.
  - Fails when any read fails, naming each one that failed and its message; the results are returned all the same.
  - >-
    With I(gate), one read (a region probe) decides whether the others are worth waiting for: when it ends without an
    answer (C(answered) false) or fails, the reads still running are stopped at once (their processes ended: a read
    changes nothing) and returned as skipped, so a region that does not answer is refused in the time of one brief
    probe, not after the SDK's retries of every other read on it.
options:
  reads:
    description:
      - Name (the key of its result in C(results)) -> the read.
    type: dict
    required: true
    suboptions:
      module:
        description:
          - The module, by its short name or this collection's FQCN. One of C(region_probe), C(route53_failover),
            C(k8s_secrets), C(rds_promote_batch), C(rds_modify_batch), C(rds_replica_batch), C(rds_retire_batch),
            C(eks_scale_services), C(eks_nodegroup_scale), C(elasticache_redis), C(s3_crr_sync), C(failover_capabilities),
            or, by their FQCN, M(amazon.aws.aws_caller_info) and M(amazon.aws.rds_instance_info).
        type: str
        required: true
      args:
        description: The module's arguments.
        type: dict
        default: {}
  gate:
    description:
      - >-
        The name of one of I(reads) whose result decides whether the others are waited for; when it has C(answered)
        false, or fails, the others still running are stopped, and returned as skipped with a message naming the gate.
      - Without pipelining, the gate runs first and the others only once it answered.
    type: str
extends_documentation_fragment:
  - lomashwood.multiregion.attributes
attributes:
  action:
    description: Runs as an action plugin on the controller, which starts each module.
    support: full
  check_mode:
    support: full
    details: Every read runs in check mode, in a check-mode run or not.
  diff_mode:
    support: none
seealso:
  - module: lomashwood.multiregion.region_probe
  - module: lomashwood.multiregion.route53_failover
  - module: lomashwood.multiregion.k8s_secrets
author:
  - Lomash Wood platform team (@lomashwood)
"""

EXAMPLES = r"""
- name: Ask the standby whether it answers, where the API answers, and whether the Secrets are whole, at once
  lomashwood.multiregion.read_together:
    reads:
      standby:
        module: region_probe
        args: {region: eu-west-2, db_instance_identifiers: [lomash-auth-prod-replica], timeout: 3}
      dns:
        module: route53_failover
        args:
          mode: status
          zone: lomashwood.com
          record: api.lomashwood.com
          primary: {region: eu-west-1, alb: lomash-wood-alb-euw1}
          standby: {region: eu-west-2, alb: lomash-wood-alb-euw2}
  register: reads

- name: Probe the standby and read its replicas' lag beside it; refuse at once if the standby does not answer
  lomashwood.multiregion.read_together:
    reads:
      standby:
        module: region_probe
        args: {region: eu-west-2, timeout: 3}
      rpo:
        module: rds_promote_batch
        args: {region: eu-west-2, db_instance_identifiers: [lomash-auth-prod-replica], max_replica_lag_seconds: 300}
    gate: standby
  register: standby_reads

- name: Use one read's result as that module's own task would have registered it
  ansible.builtin.debug:
    msg: "{{ reads.results.dns.status.serving_region }}"
"""

RETURN = r"""
results:
  description: Name -> that module's result, as its own task would have registered it (in check mode).
  returned: always
  type: dict
  sample: {"standby": {"answered": true, "changed": false}, "dns": {"status": {"serving_region": "eu-west-2"}}}
stopped_by:
  description: The I(gate), when its result stopped the other reads.
  returned: when the gate stopped the others
  type: str
  sample: standby
elapsed_seconds:
  description: How long the reads took together, in seconds (about the slowest one's time).
  returned: always
  type: float
  sample: 0.42
"""
