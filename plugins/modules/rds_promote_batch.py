#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: rds_promote_batch
short_description: Promote a batch of RDS read replicas at once, behind an RPO gate
version_added: 0.1.0
description:
  - Promotes RDS read replicas (for example cross-region PostgreSQL replicas in the standby
    region) to standalone instances, all at the same time, and waits for the whole batch with one
    shared C(DescribeDBInstances) poll per interval.
  - Before anything is changed, every requested replica is checked. It must exist in I(region), be
    a read replica (or one this module promoted earlier), and its latest CloudWatch
    C(AWS/RDS ReplicaLag) must be at most I(max_replica_lag_seconds). One bad replica refuses the
    whole batch and the error names it.
  - Idempotent and resumable. Each replica is tagged C(lomashwood:promoted-from) just before its
    promotion, so a later run recognises the instances it promoted and waits on a promotion in
    progress instead of promoting twice.
author:
  - Lomash Wood platform team (@lomashwood)
options:
  db_instance_identifiers:
    description:
      - The replicas to promote, by identifier or ARN.
      - Or select them with I(source_region) or I(tags) instead.
    type: list
    elements: str
    aliases: [replicas]
  source_region:
    description:
      - Select every read replica in I(region) whose source is in this region.
      - With I(db_instance_identifiers), refuse replicas that replicate from another region.
    type: str
  tags:
    description:
      - Select the read replicas in I(region) that carry all these tags.
    type: dict
  max_replica_lag_seconds:
    description:
      - The RPO gate. Refuse the batch when a replica's latest C(ReplicaLag) is above this.
    type: int
    default: 30
  lag_max_age_seconds:
    description:
      - A C(ReplicaLag) datapoint older than this does not count; a replica without a recent
        datapoint is refused unless I(force=true).
    type: int
    default: 300
  lag_wait_timeout:
    description:
      - Seconds to wait for every replica's lag to come within I(max_replica_lag_seconds) before
        the RPO gate refuses, reading the lag once per I(poll_interval) (one C(GetMetricData) for
        the whole batch). For a planned failover, whose writes were stopped in the primary, wait
        for lag 0, then promote (or, in check mode, only wait). The progress file says which
        replicas have caught up.
      - C(0) decides on the first reading.
    type: int
    default: 0
  force:
    description:
      - Promote even when the lag is too high or unknown (an ungraceful failover that may lose data).
    type: bool
    default: false
  backup_retention_period:
    description:
      - Days of automated backups for the promoted instances. Unset keeps the replica's setting.
    type: int
extends_documentation_fragment:
  - lomashwood.multiregion.batch
  - lomashwood.multiregion.attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - The promotion cannot be undone; run with C(--check) first to see the plan.
"""

EXAMPLES = r"""
- name: Promote the standby databases, all at once
  lomashwood.multiregion.rds_promote_batch:
    region: eu-west-2
    db_instance_identifiers:
      - lomash-auth-prod-replica
      - lomash-orders-prod-replica
    max_replica_lag_seconds: 30
  register: promoted

- name: Promote every replica of eu-west-1 in eu-west-2, even if the lag is unknown (primary region gone)
  lomashwood.multiregion.rds_promote_batch:
    region: eu-west-2
    source_region: eu-west-1
    force: true
    wait_timeout: 3600

- name: Show the new endpoints
  ansible.builtin.debug:
    msg: "{{ promoted.results | items2dict(key_name='name', value_name='address') }}"
"""

RETURN = r"""
extends_documentation_fragment:
  - lomashwood.multiregion.batch
changed:
  description: Whether any replica was (or, in check mode, would be) promoted.
  returned: always
  type: bool
results:
  description: One entry per requested replica, in request order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: DB instance identifier.
      type: str
      sample: lomash-orders-prod-replica
    action:
      description: C(promote), C(wait) (a promotion already in progress) or C(none) (already promoted).
      type: str
    outcome:
      description: C(promoted), C(already-promoted), C(would-promote) (check mode), C(pending) or C(failed).
      type: str
    changed:
      description: Whether this run promoted it.
      type: bool
    source:
      description: The instance it replicated from.
      type: str
    lag_seconds:
      description: Replica lag at promotion (the RPO estimate), when known.
      type: float
    address:
      description: Endpoint address once promoted.
      type: str
    port:
      description: Endpoint port once promoted.
      type: int
    before:
      description: Status, source and endpoint before the run.
      type: dict
    after:
      description: Status, source and endpoint at the end of the run.
      type: dict
    seconds:
      description: Seconds from the start of the run until the instance was promoted and available.
      type: float
    error:
      description: Why this instance failed, or null.
      type: str
plan:
  description: The actions decided before anything was changed (what check mode shows).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "lomash-auth-prod-replica", "action": "promote", "lag_seconds": 4.0}]
endpoints:
  description:
    - Each instance's endpoint, by name. The DNS name does not change on promotion, so in check
      mode and before the promotion is done it is already the address to connect to.
  returned: always
  type: dict
  sample: {"lomash-auth-prod-replica": {"address": "lomash-auth-prod-replica.abc.eu-west-2.rds.amazonaws.com", "port": 5432}}
"""

import time

try:
    import botocore.session
except ImportError:
    botocore = None  # AnsibleAWSModule reports the missing botocore

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.lomashwood.multiregion.plugins.module_utils import aws
from ansible_collections.lomashwood.multiregion.plugins.module_utils import rds_promotion as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import (
    Adapter, ApiCallCounter, batch_argument_spec, diff_of, execute, write_progress)


class Promotion(Adapter):
    """rds_promote_batch for the module flow (module_utils/batch.py)."""

    noun = "replica"
    progress_what, progress_done_word = "promotions", "available"
    refusal = "Refusing to promote anything"
    failure = "Failed to promote"

    def __init__(self, module, counter):
        self.params, self.region = module.params, module.region
        self.rds = aws.client(module, "rds", counter, module.params["max_concurrency"])
        self.cloudwatch = aws.client(module, "cloudwatch", counter)
        self.names, self.lags = [], {}

    def observe(self):
        p = self.params
        if p["db_instance_identifiers"] is not None:
            self.names = core.normalise_identifiers(p["db_instance_identifiers"], self.region)
            observed = core.describe_instances(self.rds, self.names)
        else:
            observed = core.describe_instances(self.rds)
            self.names = core.select_replicas(observed.values(), p["source_region"], p["tags"])
        # The RPO gate's input: lag of the replicas that still need promoting.
        to_check = [n for n in self.names if n in observed and observed[n].is_replica and not observed[n].marked_promoted]
        self.lags = core.read_replica_lag(self.cloudwatch, to_check, p["lag_max_age_seconds"]) if to_check else {}
        if to_check and not p["force"] and p["lag_wait_timeout"] > 0:
            self.wait_for_lag(to_check)
        return observed

    def wait_for_lag(self, names, clock=time.monotonic, sleep=time.sleep):
        """Read the lag once per poll_interval until every replica is within the gate or
        lag_wait_timeout passes (the gate in plan() then refuses, naming the ones behind)."""
        p = self.params
        started = clock()
        deadline = started + p["lag_wait_timeout"]

        def behind():
            return {n: "lag unknown" if self.lags.get(n) is None else "lag %.0f s" % self.lags[n] for n in names
                    if self.lags.get(n) is None or self.lags[n] > p["max_replica_lag_seconds"]}

        while True:
            pending = behind()
            if p["progress_file"]:
                write_progress(p["progress_file"], "replicas", len(names), [n for n in names if n not in pending],
                               pending, clock() - started,
                               done_word="caught up (lag at most %s s)" % p["max_replica_lag_seconds"])
            now = clock()
            if not pending or now >= deadline:
                return
            sleep(min(p["poll_interval"], deadline - now))
            self.lags = core.read_replica_lag(self.cloudwatch, names, p["lag_max_age_seconds"])

    def plan(self, observed):
        p = self.params
        return core.plan_promotion(self.names, observed, self.lags, self.region, p["max_replica_lag_seconds"],
                                   p["force"], p["source_region"])

    def simulate(self, plan, observed):
        return core.simulate(plan, observed)

    def apply(self, plan):
        return plan, core.start_promotions(self.rds, plan, self.params["max_concurrency"],
                                           self.params["backup_retention_period"])

    def poll(self):
        return core.describe_instances(self.rds, self.names)

    def is_done(self, action, state):
        return core.is_promoted(state)

    def progress(self, name, state):
        return state.status if state else "not found"

    def summarise(self, plan, before, after, done, failures, check_mode):
        results = []
        for action in plan:
            was = before[action.name]
            now = after.get(action.name) or was
            results.append(dict(
                name=action.name, action=action.action,
                outcome=core.outcome(action, now, action.name in failures, check_mode),
                changed=action.changed and action.name not in failures,
                source=action.source, lag_seconds=action.lag_seconds,
                address=now.address, port=now.port,
                before=was.summary(), after=now.summary(),
                seconds=done.get(action.name),
                error=str(failures[action.name]) if action.name in failures else None,
            ))
        endpoints = {r["name"]: {"address": r["address"], "port": r["port"]} for r in results}
        return dict(results=results, endpoints=endpoints, diff=diff_of(results))


def main():
    argument_spec = dict(
        db_instance_identifiers=dict(type="list", elements="str", aliases=["replicas"]),
        source_region=dict(type="str"),
        tags=dict(type="dict"),
        max_replica_lag_seconds=dict(type="int", default=30),
        lag_max_age_seconds=dict(type="int", default=300),
        lag_wait_timeout=dict(type="int", default=0),
        force=dict(type="bool", default=False),
        backup_retention_period=dict(type="int"),
        **batch_argument_spec(),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_one_of=[("db_instance_identifiers", "source_region", "tags")],
        mutually_exclusive=[("db_instance_identifiers", "tags")],
    )
    if not module.region:
        module.fail_json(msg="region is required (the standby region the replicas live in)")
    if botocore is not None:
        # A misspelt region would otherwise surface as a connection error (or, on an emulator, none at all).
        session = botocore.session.get_session()
        regions = {r for partition in session.get_available_partitions()
                   for r in session.get_available_regions("rds", partition_name=partition)}
        if regions and module.region not in regions:
            module.fail_json(msg="Refusing to promote anything: region %r is not an AWS region with RDS" % module.region,
                             changed=False)
    counter = ApiCallCounter()
    execute(module, lambda m: Promotion(m, counter), counter,
            minimums=dict(max_replica_lag_seconds=0, lag_max_age_seconds=1, backup_retention_period=0,
                          lag_wait_timeout=0))


if __name__ == "__main__":
    main()
