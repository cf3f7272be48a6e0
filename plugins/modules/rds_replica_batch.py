#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: rds_replica_batch
short_description: Ensure a batch of cross-region RDS read replicas exist and are in sync
version_added: 0.1.0
description:
  - Creates read replicas in I(region) of primaries in another region (for the failback,
    PostgreSQL replicas in C(eu-west-1) of the promoted primaries in C(eu-west-2)), all at the
    same time, and waits for the whole batch with one shared C(DescribeDBInstances) (and one
    C(GetMetricData)) per interval until every replica is C(available), replicates from its
    source and its latest CloudWatch C(AWS/RDS ReplicaLag) is at most I(max_replica_lag_seconds).
  - Idempotent. A replica of the asked source that already exists is left alone (and waited on
    while it is still creating); so is one that M(lomashwood.multiregion.rds_promote_batch)
    promoted since (it carries its C(lomashwood:promoted-from) mark naming that source), so a
    failback run can be run again after the promotion.
  - Before anything is created every entry is checked, and one bad entry refuses the whole batch,
    naming it. Refused are a missing or invalid name or source, a duplicate name, a source in
    I(region) itself, an instance of that name in I(region) that is not a read replica of that
    source, and a source that is missing, not C(available), itself a read replica, without
    automated backups, or encrypted while no I(kms_key_id) is given, and a
    I(db_subnet_group_name) that is not in I(region).
author:
  - Lomash Wood platform team (@lomashwood)
options:
  replicas:
    description:
      - The replicas that should exist in I(region).
      - Each entry's unset options take the module-wide value of the same name.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - DB instance identifier of the replica in I(region).
        type: str
        required: true
      source:
        description:
          - The primary it replicates from, by identifier (with I(source_region)) or ARN.
        type: str
      source_region:
        description:
          - The region of I(source). Taken from I(source) when that is an ARN.
        type: str
      instance_class:
        description:
          - The replica's class. Default the module-wide I(instance_class).
        type: str
      kms_key_id:
        description:
          - KMS key (ARN, id or alias) in I(region) for the replica's storage. Required when the
            source is encrypted (RDS cannot use the source region's key).
        type: str
      db_subnet_group_name:
        description:
          - DB subnet group in I(region) to put the replica in. Unset, RDS uses the default VPC.
        type: str
      vpc_security_group_ids:
        description:
          - VPC security groups in I(region) for the replica.
        type: list
        elements: str
      db_parameter_group_name:
        description:
          - DB parameter group in I(region). Unset, the engine's default.
        type: str
      multi_az:
        description:
          - Create the replica Multi-AZ.
        type: bool
      tags:
        description:
          - Tags for the replica, on top of the module-wide I(tags).
        type: dict
  source_region:
    description:
      - The source region for every entry that does not give its own.
    type: str
  instance_class:
    description:
      - The class for every entry that does not give its own.
    type: str
    default: db.t3.medium
  kms_key_id:
    description:
      - The KMS key in I(region) for every entry that does not give its own.
    type: str
  db_subnet_group_name:
    description:
      - The DB subnet group in I(region) for every entry that does not give its own.
    type: str
  vpc_security_group_ids:
    description:
      - The VPC security groups for every entry that does not give its own.
    type: list
    elements: str
  db_parameter_group_name:
    description:
      - The DB parameter group for every entry that does not give its own.
    type: str
  multi_az:
    description:
      - Multi-AZ for every entry that does not say.
    type: bool
    default: false
  tags:
    description:
      - Tags for every replica created. Each replica is also tagged C(lomashwood:replica-of) with its source's ARN.
    type: dict
  max_replica_lag_seconds:
    description:
      - A replica is in sync once its latest C(ReplicaLag) is at most this many seconds.
    type: int
    default: 30
  lag_max_age_seconds:
    description:
      - A C(ReplicaLag) datapoint older than this does not count (a replica without one is not in sync yet).
    type: int
    default: 300
  wait_timeout:
    description:
      - Seconds to wait for the batch, counted from the start of the run (creating a replica takes
        many minutes on RDS).
    type: int
    default: 3600
extends_documentation_fragment:
  - lomashwood.multiregion.batch
  - lomashwood.multiregion.attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Existing replicas are not modified (a different class or subnet group is not changed); use
    M(lomashwood.multiregion.rds_modify_batch) for the class.
  - Reads the source region once (C(DescribeDBInstances)) to check the sources; it must be reachable.
"""

EXAMPLES = r"""
- name: Rebuild the eu-west-1 databases as replicas of the eu-west-2 primaries (failback)
  lomashwood.multiregion.rds_replica_batch:
    region: eu-west-1
    source_region: eu-west-2
    kms_key_id: alias/lomash-rds
    db_subnet_group_name: lomash-prod-db
    replicas:
      - {name: lomash-auth-prod, source: lomash-auth-prod-replica}
      - {name: lomash-orders-prod, source: lomash-orders-prod-replica, instance_class: db.r6g.large}
    max_replica_lag_seconds: 5
    wait_timeout: 5400
  register: rebuilt

- name: Show the new endpoints
  ansible.builtin.debug:
    msg: "{{ rebuilt.results | items2dict(key_name='name', value_name='address') }}"
"""

RETURN = r"""
extends_documentation_fragment:
  - lomashwood.multiregion.batch
changed:
  description: Whether any replica was (or, in check mode, would be) created.
  returned: always
  type: bool
results:
  description: One entry per requested replica, in request order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: DB instance identifier of the replica.
      type: str
      sample: lomash-orders-prod
    action:
      description: C(create), C(wait) (exists, not available yet) or C(none) (exists, or promoted since).
      type: str
    outcome:
      description: C(created), C(exists), C(promoted-since), C(would-create) (check mode), C(pending) or C(failed).
      type: str
    changed:
      description: Whether this run created it.
      type: bool
    status:
      description: The replica's status at the end of the run.
      type: str
    source:
      description: ARN of the instance it replicates from.
      type: str
      sample: arn:aws:rds:eu-west-2:123456789012:db:lomash-orders-prod-replica
    instance_class:
      description: The replica's class.
      type: str
    address:
      description: Endpoint address (null while RDS has not given one yet, and in check mode).
      type: str
    port:
      description: Endpoint port.
      type: int
    lag_seconds:
      description: The latest C(ReplicaLag) read, or null without a recent datapoint.
      type: float
    before:
      description: Status, source, class and endpoint before the run (null when it did not exist).
      type: dict
    after:
      description: The same at the end of the run (in check mode, as it would be).
      type: dict
    seconds:
      description: Seconds from the start of the run until the replica was in sync.
      type: float
    error:
      description: Why this replica failed, or null.
      type: str
plan:
  description: The actions decided before anything was changed (what check mode shows).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "lomash-auth-prod", "action": "create", "source_region": "eu-west-2",
            "source": "arn:aws:rds:eu-west-2:123456789012:db:lomash-auth-prod-replica", "instance_class": "db.t3.medium"}]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.lomashwood.multiregion.plugins.module_utils import aws
from ansible_collections.lomashwood.multiregion.plugins.module_utils import rds_replicas as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import (
    Adapter, ApiCallCounter, batch_argument_spec, diff_of, execute)

# The module-wide options an entry inherits when it leaves them unset.
INHERITED = ("source_region", "instance_class", "kms_key_id", "db_subnet_group_name", "vpc_security_group_ids",
             "db_parameter_group_name", "multi_az", "tags")


class Replication(Adapter):
    """rds_replica_batch for the module flow (module_utils/batch.py)."""

    noun = "replica"
    refusal = "Refusing to create any replica"
    failure = "Failed to create"

    def __init__(self, module, counter):
        self.module, self.counter = module, counter
        self.params, self.region = module.params, module.region
        self.rds = aws.client(module, "rds", counter, module.params["max_concurrency"])
        self.cloudwatch = aws.client(module, "cloudwatch", counter)
        self.requests, self.names = [], []

    def observe(self):
        p = self.params
        self.requests = core.normalise_requests(p["replicas"], self.region, {k: p[k] for k in INHERITED})
        self.names = [r.name for r in self.requests]
        source_clients = {region: aws.client(self.module, "rds", self.counter, region=region)
                          for region in sorted({r.source_region for r in self.requests})}
        self.sources = core.observe_sources(source_clients, self.requests)
        self.missing_groups = core.missing_subnet_groups(self.rds, self.requests)
        return self.poll()

    def plan(self, observed):
        return core.plan_replicas(self.requests, observed, self.sources, self.region, self.missing_groups)

    def simulate(self, plan, observed):
        return core.simulate(plan, observed, self.region)

    def apply(self, plan):
        return plan, core.start_creations(self.rds, plan, self.params["max_concurrency"])

    def poll(self):
        return core.observe_targets(self.rds, self.cloudwatch, self.names, self.params["lag_max_age_seconds"])

    def is_done(self, action, state):
        return core.is_done(action, state, self.params["max_replica_lag_seconds"])

    def progress(self, name, state):
        return core.progress(state, self.params["max_replica_lag_seconds"])

    def summarise(self, plan, before, after, done, failures, check_mode):
        results = []
        for action in plan:
            was = before.get(action.name) or core.ReplicaState(None)
            now = after.get(action.name) or was
            db = now.db
            results.append(dict(
                name=action.name, action=action.action,
                outcome=core.outcome(action, now, action.name in done, action.name in failures, check_mode),
                changed=action.changed and action.name not in failures,
                status=db.status if db else None,
                source=action.source_arn,
                instance_class=db.instance_class if db else action.request.instance_class,
                address=db.address if db else None, port=db.port if db else None,
                lag_seconds=now.lag_seconds,
                before=was.db.summary() if was.db else None, after=db.summary() if db else None,
                seconds=done.get(action.name),
                error=str(failures[action.name]) if action.name in failures else None,
            ))
        return dict(results=results, diff=diff_of(results))


def main():
    entry = dict(
        name=dict(type="str", required=True),
        source=dict(type="str"),
        source_region=dict(type="str"),
        instance_class=dict(type="str"),
        kms_key_id=dict(type="str"),
        db_subnet_group_name=dict(type="str"),
        vpc_security_group_ids=dict(type="list", elements="str"),
        db_parameter_group_name=dict(type="str"),
        multi_az=dict(type="bool"),
        tags=dict(type="dict"),
    )
    argument_spec = dict(
        replicas=dict(type="list", elements="dict", required=True, options=entry),
        source_region=dict(type="str"),
        instance_class=dict(type="str", default=core.DEFAULT_CLASS),
        kms_key_id=dict(type="str"),
        db_subnet_group_name=dict(type="str"),
        vpc_security_group_ids=dict(type="list", elements="str"),
        db_parameter_group_name=dict(type="str"),
        multi_az=dict(type="bool", default=False),
        tags=dict(type="dict"),
        max_replica_lag_seconds=dict(type="int", default=30),
        lag_max_age_seconds=dict(type="int", default=300),
        **batch_argument_spec(wait_timeout=3600),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    if not module.region:
        module.fail_json(msg="region is required (the region the replicas are created in)")
    counter = ApiCallCounter()
    execute(module, lambda m: Replication(m, counter), counter,
            minimums=dict(max_replica_lag_seconds=0, lag_max_age_seconds=1))


if __name__ == "__main__":
    main()
