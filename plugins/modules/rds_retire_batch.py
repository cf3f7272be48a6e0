#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: rds_retire_batch
short_description: Retire a batch of RDS instances, a final snapshot each, deleted only when asked
version_added: 0.1.0
description:
  - Retires old DB instances (after the failback, the standby region's primaries), all at the same
    time. Each gets a final manual snapshot, named I(final_snapshot_identifier) or
    C(<id>-final-<snapshot_stamp>).
  - Deletes the instances only with I(delete=true), through C(DeleteDBInstance) with
    C(FinalDBSnapshotIdentifier) (the snapshot is taken by RDS as part of the deletion). Without
    it only the snapshot is taken (C(CreateDBSnapshot)) and the instance is kept; each result says so.
  - Waits for the whole batch with one shared C(DescribeDBInstances) and one
    C(DescribeDBSnapshots) per interval, until every snapshot is C(available) and, with
    I(delete), every instance is gone.
  - Idempotent and resumable. A snapshot of that name of the same instance (same
    C(DbiResourceId)) is not taken again; an instance already gone is fine (C(retired) with its
    snapshot, C(absent) without one).
  - Before anything is changed every entry is checked, and one bad entry refuses the whole batch,
    naming it. Refused are an invalid or duplicate name or snapshot name, a snapshot of that name
    that is of another instance, and, with I(delete), an instance that is still the source of
    read replicas (they are named), has deletion protection on, is not C(available), or whose
    final snapshot is still being created.
author:
  - Lomash Wood platform team (@lomashwood)
options:
  instances:
    description:
      - The DB instances to retire, in I(region).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - DB instance identifier (or ARN in I(region)).
        type: str
        required: true
        aliases: [db_instance_identifier]
      final_snapshot_identifier:
        description:
          - Name of its final snapshot. Default C(<name>-final-<snapshot_stamp>).
        type: str
  snapshot_stamp:
    description:
      - Names the final snapshots of the entries without I(final_snapshot_identifier),
        C(<name>-final-<snapshot_stamp>). Give the same value on a rerun (for example the
        failback's date or run id), so that the snapshots already taken are found.
    type: str
  delete:
    description:
      - Delete each instance once its final snapshot is taken. Without it the instances are kept.
    type: bool
    default: false
  delete_automated_backups:
    description:
      - With I(delete), also delete the instances' automated backups. By default RDS keeps them
        for their retention period.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for the batch, counted from the start of the run.
    type: int
    default: 3600
extends_documentation_fragment:
  - lomashwood.multiregion.batch
  - lomashwood.multiregion.attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Deleting cannot be undone; run with C(--check) first, and keep the final snapshots.
"""

EXAMPLES = r"""
- name: Final snapshots of the old eu-west-2 primaries, instances kept (a rehearsal)
  lomashwood.multiregion.rds_retire_batch:
    region: eu-west-2
    snapshot_stamp: failback-20260314
    instances:
      - {name: lomash-auth-prod-replica}
      - {name: lomash-orders-prod-replica}

- name: Retire them for good, once the failback is verified
  lomashwood.multiregion.rds_retire_batch:
    region: eu-west-2
    snapshot_stamp: failback-20260314
    delete: true
    instances:
      - {name: lomash-auth-prod-replica}
      - {name: lomash-orders-prod-replica, final_snapshot_identifier: lomash-orders-last}
  register: retired
"""

RETURN = r"""
extends_documentation_fragment:
  - lomashwood.multiregion.batch
changed:
  description: Whether any snapshot was taken or instance deleted (or, in check mode, would be).
  returned: always
  type: bool
results:
  description: One entry per requested instance, in request order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: DB instance identifier.
      type: str
      sample: lomash-orders-prod-replica
    action:
      description: C(snapshot), C(snapshot-and-delete), C(delete) (its final snapshot was there), C(wait) or C(none).
      type: str
    outcome:
      description:
        - C(snapshotted) (taken, instance kept), C(kept) (snapshot was there, instance kept),
          C(deleted), C(retired) (was gone already, snapshot there), C(absent) (gone, no such
          snapshot), C(would-snapshot) / C(would-delete) (check mode), C(pending) or C(failed).
      type: str
    changed:
      description: Whether this run snapshotted or deleted it.
      type: bool
    snapshot:
      description: The final snapshot's identifier.
      type: str
      sample: lomash-orders-prod-replica-final-failback-20260314
    snapshot_status:
      description: The final snapshot's status at the end (null when there is none).
      type: str
    instance_status:
      description: The instance's status at the end (null once deleted).
      type: str
    deleted:
      description: Whether the instance is gone at the end (in check mode, would be).
      type: bool
    before:
      description: Instance and snapshot status before the run.
      type: dict
    after:
      description: The same at the end of the run (in check mode, as it would be).
      type: dict
    seconds:
      description: Seconds from the start of the run until it was done.
      type: float
    error:
      description: Why this instance failed, or null.
      type: str
plan:
  description: The actions decided before anything was changed (what check mode shows).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "lomash-auth-prod-replica", "action": "snapshot-and-delete", "delete": true,
            "snapshot": "lomash-auth-prod-replica-final-failback-20260314"}]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.lomashwood.multiregion.plugins.module_utils import aws
from ansible_collections.lomashwood.multiregion.plugins.module_utils import rds_retire as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import (
    Adapter, ApiCallCounter, batch_argument_spec, diff_of, execute)


class Retirement(Adapter):
    """rds_retire_batch for the module flow (module_utils/batch.py)."""

    noun = "DB instance"
    refusal = "Refusing to retire anything"
    failure = "Failed to retire"

    def __init__(self, module, counter):
        self.params, self.region = module.params, module.region
        self.rds = aws.client(module, "rds", counter, module.params["max_concurrency"])
        self.targets = []

    def observe(self):
        self.targets = core.normalise_targets(self.params["instances"], self.region, self.params["snapshot_stamp"])
        return self.poll()

    def plan(self, observed):
        return core.plan_retirement(self.targets, observed, self.region, self.params["delete"])

    def simulate(self, plan, observed):
        return core.simulate(plan, observed)

    def apply(self, plan):
        return plan, core.start_retirements(self.rds, plan, self.params["max_concurrency"],
                                            self.params["delete_automated_backups"])

    def poll(self):
        return core.observe(self.rds, self.targets)

    def is_done(self, action, state):
        return core.is_done(action, state)

    def progress(self, name, state):
        state = state or core.RetireState()
        return "instance %s, snapshot %s" % (state.db.status if state.db else "gone",
                                             state.snapshot.status if state.snapshot else "none")

    def summarise(self, plan, before, after, done, failures, check_mode):
        results = []
        for step in plan:
            was = before.get(step.name) or core.RetireState()
            now = after.get(step.name) or was
            results.append(dict(
                name=step.name, action=step.action,
                outcome=core.outcome(step, was, now, step.name in done, step.name in failures, check_mode),
                changed=step.changed and step.name not in failures,
                snapshot=step.snapshot,
                snapshot_status=now.snapshot.status if now.snapshot else None,
                instance_status=now.db.status if now.db else None,
                deleted=now.db is None,
                before=was.summary(), after=now.summary(),
                seconds=done.get(step.name),
                error=str(failures[step.name]) if step.name in failures else None,
            ))
        return dict(results=results, diff=diff_of(results))


def main():
    argument_spec = dict(
        instances=dict(type="list", elements="dict", required=True, options=dict(
            name=dict(type="str", required=True, aliases=["db_instance_identifier"]),
            final_snapshot_identifier=dict(type="str"),
        )),
        snapshot_stamp=dict(type="str"),
        delete=dict(type="bool", default=False),
        delete_automated_backups=dict(type="bool", default=False),
        **batch_argument_spec(wait_timeout=3600),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    if not module.region:
        module.fail_json(msg="region is required (the region the DB instances live in)")
    counter = ApiCallCounter()
    execute(module, lambda m: Retirement(m, counter), counter)


if __name__ == "__main__":
    main()
