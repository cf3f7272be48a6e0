#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: rds_modify_batch
short_description: Bring a batch of RDS instances to their production class and backup retention at once
version_added: 0.1.0
description:
  - After a failover the promoted standby databases still run at their at-rest class
    (C(db.t3.medium)). This scales each to its production class and sets its automated backup
    retention, all at the same time (C(ModifyDBInstance) with C(ApplyImmediately)), and waits for
    the whole batch with one shared C(DescribeDBInstances) poll per interval until every instance
    is C(available) with its new class and nothing pending.
  - Only what differs is sent; an instance that already has its class and retention gets no call.
    A class change to the asked class that is already under way (C(modifying), with
    C(PendingModifiedValues.DBInstanceClass)) is waited on, not sent again, so a killed run can be
    run again. A change left pending for the maintenance window is applied now.
  - Before anything is changed every entry is checked, and one bad entry refuses the whole batch,
    naming it. Refused are an instance that does not exist in I(region); an I(instance_class)
    that is not a C(db.<family>.<size>) name; a I(backup_retention_period) outside 0-35 days;
    a I(backup_retention_period) for an instance that is still a read replica (RDS for PostgreSQL
    read replicas keep no automated backups, so promote it first, for example with
    M(lomashwood.multiregion.rds_promote_batch)); and any change for an instance that is not
    C(available) (still promoting, or busy with another change), which RDS would refuse.
author:
  - Lomash Wood platform team (@lomashwood)
options:
  instances:
    description:
      - The DB instances and the shape each should have.
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
      instance_class:
        description:
          - The class it should have, for example C(db.r6g.large). Unset (and no module-wide
            I(instance_class)) leaves its class as it is.
        type: str
      backup_retention_period:
        description:
          - Days of automated backups it should keep (0-35). Unset uses the module-wide
            I(backup_retention_period); both unset leaves it as it is.
        type: int
  instance_class:
    description:
      - The class for every entry that does not name its own.
    type: str
  backup_retention_period:
    description:
      - The backup retention, in days, for every entry that does not give its own.
    type: int
  after_promotion:
    description:
      - >-
        The instances are being promoted (a M(lomashwood.multiregion.rds_promote_batch) run started just
        before this one, for example as an async job). An instance that is still a read replica, or not
        C(available) yet, is not refused but changed as soon as a poll finds it promoted (standalone and
        C(available)), each on its own, all in this run with the one shared wait. Each change then starts
        a poll after its promotion ends, not after the slowest promotion of the batch.
      - I(wait_timeout) counts from the start, so it covers the promotion and the change.
      - An instance whose promotion never comes (not promoted by anyone) is waited for until I(wait_timeout).
      - Needs I(wait).
    type: bool
    default: false
    version_added: 1.1.0
extends_documentation_fragment:
  - lomashwood.multiregion.batch
  - lomashwood.multiregion.attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - A class change restarts the instance (a few minutes of downtime, less with Multi-AZ); it
    is applied at once, not in the maintenance window.
  - The class is checked for its form only; whether the engine offers it in I(region) is for
    the readiness checks (C(DescribeOrderableDBInstanceOptions)), and RDS itself refuses a class
    it does not offer, named in the per-instance C(error).
"""

EXAMPLES = r"""
- name: Scale the promoted databases to their production classes, keep 7 days of backups
  lomashwood.multiregion.rds_modify_batch:
    region: eu-west-2
    backup_retention_period: 7
    instances:
      - {name: lomash-orders-prod-replica, instance_class: db.r6g.xlarge}
      - {name: lomash-auth-prod-replica, instance_class: db.r6g.large}
      - {name: lomash-analytics-prod-replica}  # backups only, stays db.t3.medium
    wait_timeout: 3600
  register: shaped

- name: Promote the replicas (a background job) ...
  lomashwood.multiregion.rds_promote_batch:
    region: eu-west-2
    db_instance_identifiers: [lomash-orders-prod-replica, lomash-auth-prod-replica]
  async: 3600
  poll: 0

- name: ... and give each its production class as soon as it is promoted
  lomashwood.multiregion.rds_modify_batch:
    region: eu-west-2
    instance_class: db.r6g.large
    instances: [{name: lomash-orders-prod-replica}, {name: lomash-auth-prod-replica}]
    after_promotion: true
    wait_timeout: 7200

- name: Show what changed
  ansible.builtin.debug:
    msg: "{{ shaped.results | items2dict(key_name='name', value_name='instance_class') }}"
"""

RETURN = r"""
extends_documentation_fragment:
  - lomashwood.multiregion.batch
changed:
  description: Whether any instance was (or, in check mode, would be) modified.
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
      description:
        - C(modify) (sent), C(wait) (the asked change was already under way), C(none) (already so)
          or C(skip) (nothing asked for it); with I(after_promotion), an instance sent its change once
          promoted shows C(modify), and C(after_promotion) one whose promotion had not ended by the end.
      type: str
    outcome:
      description: C(modified), C(unchanged), C(skipped), C(would-modify) (check mode), C(pending) or C(failed).
      type: str
    changed:
      description: Whether this run modified it.
      type: bool
    instance_class:
      description: The class before the run and the class it has (or will have) after.
      type: dict
      sample: {"before": "db.t3.medium", "after": "db.r6g.xlarge"}
    backup_retention_period:
      description: The backup retention in days before and after.
      type: dict
      sample: {"before": 1, "after": 7}
    status:
      description: The instance's status at the end of the run (C(available) once done).
      type: str
    before:
      description: Status, class, pending class and retention before the run.
      type: dict
    after:
      description: The same at the end of the run (in check mode, as it would be).
      type: dict
    seconds:
      description: Seconds from the start of the run until the instance was available in its new shape.
      type: float
    error:
      description: Why this instance failed, or null.
      type: str
plan:
  description: The steps decided before anything was changed (what check mode shows).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "lomash-orders-prod-replica", "action": "modify",
            "instance_class": {"before": "db.t3.medium", "after": "db.r6g.xlarge"},
            "backup_retention_period": {"before": 1, "after": 7}}]
"""


from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.lomashwood.multiregion.plugins.module_utils import aws
from ansible_collections.lomashwood.multiregion.plugins.module_utils import rds_modify as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import (
    Adapter, ApiCallCounter, batch_argument_spec, diff_of, execute)


class Modification(Adapter):
    """rds_modify_batch for the module flow (module_utils/batch.py)."""

    noun = "DB instance"
    progress_what, progress_done_word = "databases", "in production shape"
    refusal = "Refusing to modify anything"
    failure = "Failed to modify"

    def __init__(self, module, counter):
        self.params, self.region = module.params, module.region
        self.rds = aws.client(module, "rds", counter, module.params["max_concurrency"])
        self.targets = []

    def observe(self):
        p = self.params
        self.targets = core.normalise_targets(p["instances"], self.region, p["instance_class"], p["backup_retention_period"])
        return core.describe_instances(self.rds, [t.name for t in self.targets])

    def plan(self, observed):
        return core.plan_changes(self.targets, observed, self.region, self.params["after_promotion"])

    def is_deferred(self, action):
        return action.action == "after_promotion"

    def start_ready(self, plan, observed):
        """The instances waiting for their promotion that the poll found promoted: planned again (now
        a plain change, or none when it already has its shape) and their changes sent, at once."""
        ready = {a.name for a in plan if a.action == "after_promotion" and core.is_promoted(observed.get(a.name))}
        if not ready:
            return plan, {}
        again = {c.name: c for c in core.plan_changes([t for t in self.targets if t.name in ready], observed, self.region)}
        failures = core.start_modifications(self.rds, list(again.values()), self.params["max_concurrency"])
        return [again.get(a.name, a) for a in plan], failures

    def simulate(self, plan, observed):
        return core.simulate(plan, observed)

    def apply(self, plan):
        return plan, core.start_modifications(self.rds, plan, self.params["max_concurrency"])

    def poll(self):
        return core.describe_instances(self.rds, [t.name for t in self.targets])

    def is_done(self, action, state):
        return action.action == "skip" or core.is_shaped(action, state)

    def progress(self, name, state):
        if state is None:
            return "not found"
        return "%s, %s%s" % (state.status, state.instance_class,
                             " -> %s pending" % state.pending_class if state.pending_class else "")

    def summarise(self, plan, before, after, done, failures, check_mode):
        results = []
        for change in plan:
            was = before[change.name]
            now = after.get(change.name) or was
            results.append(dict(
                name=change.name, action=change.action,
                outcome=core.outcome(change, now, change.name in failures, check_mode),
                changed=change.changed and change.name not in failures,
                instance_class={"before": was.instance_class, "after": now.instance_class},
                backup_retention_period={"before": was.backup_retention_period, "after": now.backup_retention_period},
                status=now.status,
                before=was.summary(), after=now.summary(),
                seconds=done.get(change.name),
                error=str(failures[change.name]) if change.name in failures else None,
            ))
        return dict(results=results, diff=diff_of(results))


def main():
    argument_spec = dict(
        instances=dict(type="list", elements="dict", required=True, options=dict(
            name=dict(type="str", required=True, aliases=["db_instance_identifier"]),
            instance_class=dict(type="str"),
            backup_retention_period=dict(type="int"),
        )),
        instance_class=dict(type="str"),
        backup_retention_period=dict(type="int"),
        after_promotion=dict(type="bool", default=False),
        **batch_argument_spec(),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    if not module.region:
        module.fail_json(msg="region is required (the region the DB instances live in)")
    if module.params["after_promotion"] and not module.params["wait"]:
        module.fail_json(msg="after_promotion needs wait: the changes of the instances still promoting are sent "
                             "by this run's wait, once each is promoted")
    counter = ApiCallCounter()
    execute(module, lambda m: Modification(m, counter), counter)


if __name__ == "__main__":
    main()
