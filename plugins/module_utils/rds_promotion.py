# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The core of rds_promote_batch: observe replicas, plan their promotion, execute, wait.

Planning is pure (observed state + request -> plan or BatchError); executing and waiting take a
boto3 RDS client. Progress is recorded on the instance itself, as tags written just before the
promote call, so a run that was killed can be run again from any machine and knows which
instances it already promoted (a promoted replica looks exactly like any other primary).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .aws import is_error_code, paginate
from .batch import BatchError, duplicates, run_concurrently

PROMOTED_FROM_TAG = "lomashwood:promoted-from"
PROMOTED_LAG_TAG = "lomashwood:promoted-lag-seconds"

# RDS: 1-63 letters, digits or hyphens; starts with a letter; no trailing or double hyphen.
_IDENTIFIER = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,62}(?<!-)$")
_ARN = re.compile(r"^arn:aws[a-z-]*:rds:(?P<region>[a-z0-9-]+):\d*:db:(?P<name>.+)$")
DESCRIBE_FILTER_LIMIT = 100  # values per db-instance-id filter in one DescribeDBInstances
METRIC_QUERIES_LIMIT = 500  # queries per GetMetricData


@dataclass(frozen=True)
class Instance:
    """What one DescribeDBInstances entry says, reduced to what the plan needs."""

    name: str
    status: str
    source: str | None = None  # replica source identifier or ARN; None once promoted
    arn: str | None = None
    address: str | None = None
    port: int | None = None
    tags: dict = field(default_factory=dict)
    pending_class: str | None = None  # PendingModifiedValues.DBInstanceClass: a class change under way

    @classmethod
    def from_api(cls, desc):
        endpoint = desc.get("Endpoint") or {}
        return cls(
            name=desc["DBInstanceIdentifier"],
            status=desc.get("DBInstanceStatus", "unknown"),
            source=desc.get("ReadReplicaSourceDBInstanceIdentifier") or None,
            arn=desc.get("DBInstanceArn"),
            address=endpoint.get("Address"),
            port=endpoint.get("Port"),
            tags={t["Key"]: t["Value"] for t in desc.get("TagList") or []},
            pending_class=(desc.get("PendingModifiedValues") or {}).get("DBInstanceClass"),
        )

    @property
    def is_replica(self):
        return self.source is not None

    @property
    def marked_promoted(self):
        return PROMOTED_FROM_TAG in self.tags

    @property
    def origin(self):
        """The source it replicates from, or was promoted from (recorded in a tag)."""
        return self.source or self.tags.get(PROMOTED_FROM_TAG)

    def summary(self):
        return {"status": self.status, "read_replica_source": self.source, "address": self.address, "port": self.port}


def is_promoted(instance):
    """The readiness predicate: no longer a replica, and available, or already taking a class change
    (RDS takes one only from an available instance: the class changes failover.yml sends as soon as
    each promotion ends, rds_modify_batch after_promotion, must not hold the promotion's wait)."""
    if instance is None or instance.is_replica:
        return False
    return instance.status == "available" or (instance.status == "modifying" and instance.pending_class is not None)


# ---- plan -------------------------------------------------------------------------------------

class _Action:
    """What every planned action offers the module flow (batch.run_batch)."""

    @property
    def changed(self):
        return self.action == "promote"

    def as_dict(self):
        return {"name": self.name, "action": self.action, "source": self.source, "lag_seconds": self.lag_seconds}


@dataclass(frozen=True)
class PromoteReplica(_Action):
    """Promote a replica that has not been touched yet (or marked, but the promote call never landed)."""

    name: str
    source: str
    lag_seconds: float | None
    arn: str | None = None
    action: str = "promote"


@dataclass(frozen=True)
class AwaitPromotion(_Action):
    """A promotion this collection started earlier is still running: wait, never promote twice."""

    name: str
    source: str | None
    lag_seconds: float | None
    action: str = "wait"


@dataclass(frozen=True)
class AlreadyPromoted(_Action):
    """Promoted by an earlier run: nothing to do but report it."""

    name: str
    source: str | None
    lag_seconds: float | None
    action: str = "none"


def normalise_identifiers(identifiers, region):
    """Turn the requested identifiers (names or ARNs) into names; every bad value is named."""
    if not identifiers:
        raise BatchError(["db_instance_identifiers is empty: name at least one read replica"])
    problems, names = [], []
    for ident in identifiers:
        ident = str(ident).strip()
        arn = _ARN.match(ident)
        if arn:
            if arn.group("region") != region:
                problems.append("%s is in region %s, not %s" % (ident, arn.group("region"), region))
                continue
            ident = arn.group("name")
        if not _IDENTIFIER.match(ident):
            problems.append("%r is not a valid DB instance identifier" % ident)
            continue
        names.append(ident)
    dups = duplicates(names)
    if dups:
        problems.append("duplicate DB instance identifiers: %s" % ", ".join(dups))
    if problems:
        raise BatchError(problems)
    return names


def select_replicas(instances, source_region=None, tags=None):
    """Names of the replicas (or instances this collection promoted) matching source region and tags."""
    selected = []
    for inst in instances:
        if inst.origin is None:
            continue
        if source_region and _source_region(inst.origin) != source_region:
            continue
        if tags and any(inst.tags.get(k) != v for k, v in tags.items()):
            continue
        selected.append(inst.name)
    if not selected:
        raise BatchError(["no read replicas match source_region=%s tags=%s" % (source_region, tags or {})])
    return sorted(selected)


def _source_region(source):
    match = _ARN.match(source or "")
    return match.group("region") if match else None


def plan_promotion(names, observed, lags, region, max_lag_seconds=30, force=False, source_region=None):
    """Decide, for every requested name, promote / wait / nothing; or refuse the whole batch.

    observed maps name -> Instance (absent when not found); lags maps name -> seconds or None
    when there is no recent ReplicaLag datapoint. The RPO gate applies only to instances that
    still need promoting, and force turns it off (an ungraceful failover).
    """
    problems, plan = [], []
    too_far_behind, no_lag = [], []
    for name in names:
        inst = observed.get(name)
        if inst is None:
            problems.append("%s: no DB instance of that name in %s" % (name, region))
            continue
        if source_region and _source_region(inst.origin) not in (None, source_region):
            problems.append("%s: replicates from %s, not from source_region %s" % (name, _source_region(inst.origin), source_region))
            continue
        if inst.marked_promoted:
            recorded_lag = _float_or_none(inst.tags.get(PROMOTED_LAG_TAG))
            if is_promoted(inst):
                plan.append(AlreadyPromoted(name, inst.tags[PROMOTED_FROM_TAG], recorded_lag))
            elif inst.is_replica and inst.status == "available":
                # Marked, but the promote call never landed (the run stopped between the two).
                plan.append(PromoteReplica(name, inst.source, recorded_lag, inst.arn))
            else:
                plan.append(AwaitPromotion(name, inst.tags[PROMOTED_FROM_TAG], recorded_lag))
            continue
        if not inst.is_replica:
            problems.append("%s: is not a read replica (status %s) and was not promoted by this collection" % (name, inst.status))
            continue
        if inst.status != "available":
            problems.append("%s: replica is %s, not available; promotion would be refused" % (name, inst.status))
            continue
        lag = lags.get(name)
        if not force:
            if lag is None:
                no_lag.append(name)
                continue
            if lag > max_lag_seconds:
                too_far_behind.append("%s (%.0f s)" % (name, lag))
                continue
        plan.append(PromoteReplica(name, inst.source, lag, inst.arn))
    if too_far_behind:
        problems.append("replica lag above max_replica_lag_seconds=%s: %s; promoting now would lose more data than "
                        "the RPO allows (force: true for an ungraceful failover)" % (max_lag_seconds, ", ".join(too_far_behind)))
    if no_lag:
        problems.append("no recent ReplicaLag datapoint for: %s; the RPO cannot be checked (force: true to promote anyway)"
                        % ", ".join(no_lag))
    if problems:
        raise BatchError(problems)
    return plan


def _float_or_none(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# ---- observe ----------------------------------------------------------------------------------

def describe_instances(rds, names=None):
    """{name: Instance} for the given names (one call per 100 names), or for every instance in the region."""
    if names is None:
        return _describe(rds)
    found = {}
    names = list(names)
    for i in range(0, len(names), DESCRIBE_FILTER_LIMIT):
        found.update(_describe(rds, Filters=[{"Name": "db-instance-id", "Values": names[i:i + DESCRIBE_FILTER_LIMIT]}]))
    return found


def _describe(rds, **kwargs):
    pages = paginate(rds, "describe_db_instances", **kwargs)
    return {inst.name: inst for inst in map(Instance.from_api, pages.get("DBInstances", []))}


def read_replica_lag(cloudwatch, names, max_age_seconds, now=None):
    """{name: latest ReplicaLag seconds, or None without a datapoint in the last max_age_seconds}.

    One GetMetricData call serves up to 500 replicas.
    """
    now = now or datetime.now(timezone.utc)
    names = list(names)
    lags = {name: None for name in names}
    for i in range(0, len(names), METRIC_QUERIES_LIMIT):
        chunk = names[i:i + METRIC_QUERIES_LIMIT]
        queries = [{
            "Id": "q%d" % n,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/RDS", "MetricName": "ReplicaLag",
                           "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": name}]},
                "Period": 60,
                "Stat": "Maximum",
            },
            "ReturnData": True,
        } for n, name in enumerate(chunk)]
        pages = paginate(cloudwatch, "get_metric_data", MetricDataQueries=queries,
                         StartTime=now - timedelta(seconds=max_age_seconds),
                         EndTime=now + timedelta(seconds=60), ScanBy="TimestampDescending")
        # One entry per query and page: the newest point of a name is in its first entry with points.
        for res in pages.get("MetricDataResults", []):
            name = chunk[int(res["Id"][1:])]
            points = sorted(zip(res.get("Timestamps", []), res.get("Values", [])), reverse=True)
            if points and lags[name] is None:
                lags[name] = float(points[0][1])
    return lags


# ---- execute ----------------------------------------------------------------------------------

def start_promotions(rds, actions, max_concurrency, backup_retention_period=None):
    """Mark then promote every PromoteReplica, concurrently. Returns {name: exception} for failures.

    A promote refused with InvalidDBInstanceState on an instance this collection marked is a
    promotion already under way (real RDS may still say `available` for a moment), not an error.
    """
    def promote(action):
        tags = [{"Key": PROMOTED_FROM_TAG, "Value": action.source}]
        if action.lag_seconds is not None:
            tags.append({"Key": PROMOTED_LAG_TAG, "Value": "%g" % action.lag_seconds})
        rds.add_tags_to_resource(aws_retry=True, ResourceName=action.arn, Tags=tags)
        kwargs = {"DBInstanceIdentifier": action.name}
        if backup_retention_period is not None:
            kwargs["BackupRetentionPeriod"] = backup_retention_period
        try:
            rds.promote_read_replica(aws_retry=True, **kwargs)
        except Exception as exc:  # pylint: disable=broad-except
            if not is_error_code(exc, "InvalidDBInstanceState"):
                raise
    todo = [a for a in actions if isinstance(a, PromoteReplica)]
    return {action.name: exc for action, _result, exc in run_concurrently(promote, todo, max_concurrency) if exc}


def simulate(plan, observed):
    """The end state check mode predicts: every instance promoted, available and no longer a replica."""
    return {a.name: Instance(a.name, "available", None, observed[a.name].arn, observed[a.name].address,
                             observed[a.name].port, observed[a.name].tags) for a in plan}


def outcome(action, now, failed, check_mode):
    """promoted, already-promoted, would-promote (check mode), pending or failed."""
    if failed:
        return "failed"
    if action.action == "none":
        return "already-promoted"
    if check_mode:
        return "would-promote" if action.action == "promote" else "pending"
    return "promoted" if is_promoted(now) else "pending"
