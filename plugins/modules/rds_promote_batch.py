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
      description: Why this instance failed, if it did.
      type: str
plan:
  description: The actions decided before anything was changed (what check mode shows).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "lomash-auth-prod-replica", "action": "promote", "lag_seconds": 4.0}]
polls:
  description: How many times the batch was polled while waiting (one C(DescribeDBInstances) per 100 replicas each).
  returned: always
  type: int
  sample: 9
pending:
  description: Replicas not promoted when the wait timed out.
  returned: on timeout
  type: list
  elements: str
"""

import time

try:
    from botocore.config import Config
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.lomashwood.multiregion.plugins.module_utils import rds_promotion as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import ApiCallCounter, BatchError, BatchTimeout


def _is_error_code(exc, code):
    return isinstance(exc, is_boto3_error_code(code))


def run(module, rds, cloudwatch, counter):
    params = module.params
    region = module.region
    started = time.monotonic()

    # Validate and observe: read-only calls only.
    if params["db_instance_identifiers"] is not None:
        names = core.normalise_identifiers(params["db_instance_identifiers"], region)
        observed = core.describe_instances(rds, names)
    else:
        observed = core.describe_instances(rds)
        names = core.select_replicas(observed.values(), params["source_region"], params["tags"])
    to_check = [n for n in names if n in observed and observed[n].is_replica and not observed[n].marked_promoted]
    lags = core.read_replica_lag(cloudwatch, to_check, params["lag_max_age_seconds"]) if to_check else {}
    plan = core.plan_promotion(names, observed, lags, region, params["max_replica_lag_seconds"],
                               params["force"], params["source_region"])

    before = {n: observed[n] for n in names}
    result = dict(
        changed=any(a.action == "promote" for a in plan),
        plan=[dict(name=a.name, action=a.action, source=a.source, lag_seconds=a.lag_seconds) for a in plan],
    )
    if module.check_mode:
        return _finish(result, plan, before, _simulate(plan, before), {}, {}, started, counter, check_mode=True)

    failures = core.start_promotions(rds, plan, params["max_concurrency"], _is_error_code, params["backup_retention_period"])
    if failures:
        # Promotions already started go on in AWS; the next run waits for them.
        result = _finish(result, plan, before, core.describe_instances(rds, names), {}, failures, started, counter)
        failed = "; ".join("%s: %s" % (n, e) for n, e in sorted(failures.items()))
        raise _ModuleFailure("Failed to promote %s" % failed, result)
    if not params["wait"]:
        return _finish(result, plan, before, core.describe_instances(rds, names), {}, {}, started, counter)

    def count_poll(*_progress):
        result["polls"] += 1

    result["polls"] = 0
    try:
        done, after, _elapsed = core.wait_for_promotions(rds, names, params["wait_timeout"], params["poll_interval"],
                                                         start=started, on_poll=count_poll)
    except BatchTimeout as timeout:
        result = _finish(result, plan, before, timeout.observed, timeout.done, {}, started, counter)
        result["pending"] = timeout.pending
        raise _ModuleFailure("Promotion of %d replica(s) %s" % (len(names), timeout), result)
    return _finish(result, plan, before, after, done, {}, started, counter)


def _simulate(plan, before):
    """The end state check mode predicts: promoted instances, available and no longer replicas."""
    return {a.name: core.Instance(a.name, "available", None, before[a.name].arn, before[a.name].address,
                                  before[a.name].port, before[a.name].tags) for a in plan}


def _outcome(action, now, failed, check_mode):
    if failed:
        return "failed"
    if action.action == "none":
        return "already-promoted"
    if check_mode:
        return "would-promote" if action.action == "promote" else "pending"
    return "promoted" if core.is_promoted(now) else "pending"


def _finish(result, plan, before, after, done, failures, started, counter, check_mode=False):
    results = []
    for action in plan:
        was = before[action.name]
        now = after.get(action.name) or was
        entry = dict(
            name=action.name, action=action.action,
            outcome=_outcome(action, now, action.name in failures, check_mode),
            changed=action.action == "promote" and action.name not in failures,
            source=action.source, lag_seconds=action.lag_seconds,
            address=now.address, port=now.port,
            before=was.summary(), after=now.summary(),
            seconds=done.get(action.name),
        )
        if action.name in failures:
            entry["error"] = str(failures[action.name])
        results.append(entry)
    result.setdefault("polls", 0)
    result.update(
        results=results,
        elapsed_seconds=round(time.monotonic() - started, 2),
        api_calls=counter.as_dict(),
        diff=dict(before={r["name"]: r["before"] for r in results}, after={r["name"]: r["after"] for r in results}),
    )
    return result


class _ModuleFailure(Exception):
    def __init__(self, msg, result):
        super().__init__(msg)
        self.result = result


def main():
    argument_spec = dict(
        db_instance_identifiers=dict(type="list", elements="str", aliases=["replicas"]),
        source_region=dict(type="str"),
        tags=dict(type="dict"),
        max_replica_lag_seconds=dict(type="int", default=30),
        lag_max_age_seconds=dict(type="int", default=300),
        force=dict(type="bool", default=False),
        backup_retention_period=dict(type="int"),
        max_concurrency=dict(type="int", default=10),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
        poll_interval=dict(type="float", default=10),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_one_of=[("db_instance_identifiers", "source_region", "tags")],
        mutually_exclusive=[("db_instance_identifiers", "tags")],
    )
    for opt in ("max_replica_lag_seconds", "lag_max_age_seconds", "max_concurrency", "wait_timeout"):
        if module.params[opt] < (0 if opt == "max_replica_lag_seconds" else 1):
            module.fail_json(msg="%s must be positive, got %s" % (opt, module.params[opt]))
    if module.params["poll_interval"] <= 0:
        module.fail_json(msg="poll_interval must be positive, got %s" % module.params["poll_interval"])
    if not module.region:
        module.fail_json(msg="region is required (the standby region the replicas live in)")

    counter = ApiCallCounter()
    pool = Config(max_pool_connections=max(10, module.params["max_concurrency"]))
    retry = AWSRetry.jittered_backoff(retries=8, delay=1, max_delay=20)
    rds = counter.attach(module.client("rds", retry_decorator=retry, config=pool))
    cloudwatch = counter.attach(module.client("cloudwatch", retry_decorator=retry))
    try:
        result = run(module, rds, cloudwatch, counter)
    except BatchError as exc:
        module.fail_json(msg="Refusing to promote anything: %s" % exc, problems=exc.problems, api_calls=counter.as_dict())
    except _ModuleFailure as exc:
        module.fail_json(msg=str(exc), **exc.result)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json_aws(exc, msg="Failed to promote the replicas")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
