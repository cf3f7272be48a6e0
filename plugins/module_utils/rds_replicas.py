# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The core of rds_replica_batch: cross-region read replicas in this region of primaries in another.

The failback rebuilds the primary region's databases as read replicas of the standby's (promoted)
primaries. Planning is pure (requests + observed instances -> plan or BatchError); creating and
waiting take boto3 clients. A replica is done when it is `available`, replicates from the asked
source and its CloudWatch ReplicaLag is at most the asked seconds ("in sync").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .aws import is_error_code, paginate
from .batch import BatchError, duplicates, run_concurrently
from .rds_promotion import _ARN, _IDENTIFIER, DESCRIBE_FILTER_LIMIT, PROMOTED_FROM_TAG, read_replica_lag

DEFAULT_CLASS = "db.t3.medium"
# Written on every replica this module creates: which source it was made from.
REPLICA_OF_TAG = "lomashwood:replica-of"
_CLASS = re.compile(r"^db\.[a-z0-9]+\.[a-z0-9]+$")


@dataclass(frozen=True)
class DB:
    """What one DescribeDBInstances entry says, reduced to what the replica plan needs."""

    name: str
    status: str
    source: str | None = None  # ReadReplicaSourceDBInstanceIdentifier (an ARN when cross-region)
    arn: str | None = None
    instance_class: str | None = None
    address: str | None = None
    port: int | None = None
    storage_encrypted: bool = False
    backup_retention_period: int = 0
    replicas: tuple = ()  # ReadReplicaDBInstanceIdentifiers
    tags: dict = field(default_factory=dict)
    dbi_resource_id: str | None = None
    deletion_protection: bool = False

    @classmethod
    def from_api(cls, desc):
        endpoint = desc.get("Endpoint") or {}
        return cls(
            name=desc["DBInstanceIdentifier"],
            status=desc.get("DBInstanceStatus", "unknown"),
            source=desc.get("ReadReplicaSourceDBInstanceIdentifier") or None,
            arn=desc.get("DBInstanceArn"),
            instance_class=desc.get("DBInstanceClass"),
            address=endpoint.get("Address"),
            port=endpoint.get("Port"),
            storage_encrypted=bool(desc.get("StorageEncrypted")),
            backup_retention_period=desc.get("BackupRetentionPeriod") or 0,
            replicas=tuple(desc.get("ReadReplicaDBInstanceIdentifiers") or ()),
            tags={t["Key"]: t["Value"] for t in desc.get("TagList") or []},
            dbi_resource_id=desc.get("DbiResourceId"),
            deletion_protection=bool(desc.get("DeletionProtection")),
        )

    @property
    def is_replica(self):
        return self.source is not None

    def summary(self):
        return {"status": self.status, "read_replica_source": self.source, "instance_class": self.instance_class,
                "address": self.address, "port": self.port}


@dataclass(frozen=True)
class ReplicaState:
    """A target instance as one poll sees it: the instance (None: absent) and its latest ReplicaLag."""

    db: DB | None
    lag_seconds: float | None = None


@dataclass(frozen=True)
class ReplicaRequest:
    """One replica asked for, its options resolved (entry over module-wide defaults)."""

    name: str
    source_name: str
    source_region: str
    instance_class: str = DEFAULT_CLASS
    kms_key_id: str | None = None
    db_subnet_group_name: str | None = None
    vpc_security_group_ids: tuple = ()
    db_parameter_group_name: str | None = None
    multi_az: bool = False
    tags: tuple = ()  # ((key, value), ...)


def same_source(observed_source, source_arn, source_name):
    """Whether a replica's ReadReplicaSourceDBInstanceIdentifier is the asked source (ARN or bare id)."""
    if not observed_source:
        return False
    return observed_source == source_arn or observed_source == source_name


def is_in_sync(state, source_arn, source_name, max_lag_seconds):
    """The readiness predicate: available, a replica of that source, ReplicaLag known and within bounds."""
    return (state is not None and state.db is not None and state.db.status == "available"
            and same_source(state.db.source, source_arn, source_name)
            and state.lag_seconds is not None and state.lag_seconds <= max_lag_seconds)


def was_promoted_from(db, source_arn):
    """A replica of this source that rds_promote_batch promoted since (its mark names the source)."""
    return db is not None and not db.is_replica and db.tags.get(PROMOTED_FROM_TAG) == source_arn


# ---- plan -------------------------------------------------------------------------------------

class _Action:
    @property
    def changed(self):
        return self.action == "create"

    def as_dict(self):
        return {"name": self.name, "action": self.action, "source": self.source_arn,
                "source_region": self.request.source_region, "instance_class": self.request.instance_class}


@dataclass(frozen=True)
class CreateReplica(_Action):
    name: str
    request: ReplicaRequest
    source_arn: str
    action: str = "create"


@dataclass(frozen=True)
class ExistingReplica(_Action):
    """The replica exists: left alone; "wait" while it is not available yet (never created twice)."""

    name: str
    request: ReplicaRequest
    source_arn: str
    action: str = "none"


@dataclass(frozen=True)
class PromotedSince(_Action):
    """Was this source's replica and has been promoted since (failback went on): nothing to do."""

    name: str
    request: ReplicaRequest
    source_arn: str
    action: str = "none"


def normalise_requests(entries, region, defaults=None):
    """Turn the `replicas` option into ReplicaRequests; every bad value is named, nothing is read."""
    defaults = defaults or {}
    if not entries:
        raise BatchError(["replicas is empty: name at least one replica to create"])
    problems, requests = [], []
    for index, entry in enumerate(entries):
        entry = {k: v for k, v in entry.items() if v is not None}
        opt = dict({k: v for k, v in defaults.items() if v is not None}, **entry)
        name = str(entry.get("name") or "").strip()
        label = name or "replicas[%d]" % index
        if not name:
            problems.append("%s: name is missing" % label)
        elif not _IDENTIFIER.match(name):
            problems.append("%r is not a valid DB instance identifier" % name)
        source = str(opt.get("source") or "").strip()
        source_region = opt.get("source_region")
        if not source:
            problems.append("%s: source is missing (the primary's identifier or ARN)" % label)
            continue
        arn = _ARN.match(source)
        if arn:
            if source_region and source_region != arn.group("region"):
                problems.append("%s: source %s is in region %s, not source_region %s"
                                % (label, source, arn.group("region"), source_region))
                continue
            source_region, source = arn.group("region"), arn.group("name")
        if not source_region:
            problems.append("%s: source_region is missing (the region of source %s)" % (label, source))
            continue
        if source_region == region:
            problems.append("%s: source %s is in %s, the region the replica would be in; this module makes "
                            "cross-region replicas only" % (label, source, region))
            continue
        if not _IDENTIFIER.match(source):
            problems.append("%s: source %r is not a valid DB instance identifier" % (label, source))
            continue
        instance_class = opt.get("instance_class") or DEFAULT_CLASS
        if not _CLASS.match(instance_class):
            problems.append("%s: instance_class %r is not a DB instance class (db.<family>.<size>)" % (label, instance_class))
            continue
        tags = dict(defaults.get("tags") or {}, **(entry.get("tags") or {}))
        requests.append(ReplicaRequest(
            name=name, source_name=source, source_region=source_region, instance_class=instance_class,
            kms_key_id=opt.get("kms_key_id"), db_subnet_group_name=opt.get("db_subnet_group_name"),
            vpc_security_group_ids=tuple(opt.get("vpc_security_group_ids") or ()),
            db_parameter_group_name=opt.get("db_parameter_group_name"), multi_az=bool(opt.get("multi_az")),
            tags=tuple(sorted((str(k), str(v)) for k, v in tags.items())),
        ))
    dups = duplicates(r.name for r in requests)
    if dups:
        problems.append("duplicate replica names: %s" % ", ".join(dups))
    if problems:
        raise BatchError(problems)
    return requests


def plan_replicas(requests, targets, sources, region, missing_subnet_groups=()):
    """Decide, for every request, create / wait / nothing; or refuse the whole batch, naming each problem.

    targets: {name: ReplicaState} in this region; sources: {(region, name): DB} in the source regions.
    An existing instance of the asked name must be a replica of the asked source (left alone then);
    anything else there is refused, as is a source that is missing, not available, itself a
    replica, without automated backups, or encrypted while no kms_key_id was given.
    """
    problems, plan = [], []
    for req in requests:
        source = sources.get((req.source_region, req.source_name))
        source_arn = source.arn if source else None
        existing = (targets.get(req.name) or ReplicaState(None)).db
        if existing is not None:
            if same_source(existing.source, source_arn, req.source_name) and source_arn:
                plan.append(ExistingReplica(req.name, req, source_arn,
                                            action="none" if existing.status == "available" else "wait"))
            elif source_arn and was_promoted_from(existing, source_arn):
                plan.append(PromotedSince(req.name, req, source_arn))
            else:
                what = ("a read replica of %s" % existing.source) if existing.is_replica else "a standalone instance"
                problems.append("%s: already exists in %s and is not a read replica of %s in %s (it is %s, %s); "
                                "refusing to touch it" % (req.name, region, req.source_name, req.source_region,
                                                          what, existing.status))
            continue
        if source is None:
            problems.append("%s: source %s not found in %s" % (req.name, req.source_name, req.source_region))
        elif source.is_replica:
            problems.append("%s: source %s in %s is itself a read replica (of %s); promote it first"
                            % (req.name, req.source_name, req.source_region, source.source))
        elif source.status != "available":
            problems.append("%s: source %s in %s is %s, not available" % (req.name, req.source_name, req.source_region,
                                                                          source.status))
        elif not source.backup_retention_period:
            problems.append("%s: source %s in %s has automated backups off (BackupRetentionPeriod 0); a read replica "
                            "needs them" % (req.name, req.source_name, req.source_region))
        elif source.storage_encrypted and not req.kms_key_id:
            problems.append("%s: source %s is encrypted; a cross-region replica needs kms_key_id (a KMS key in %s)"
                            % (req.name, req.source_name, region))
        elif req.db_subnet_group_name in missing_subnet_groups:
            problems.append("%s: db_subnet_group_name %s not found in %s" % (req.name, req.db_subnet_group_name, region))
        else:
            plan.append(CreateReplica(req.name, req, source_arn))
    if problems:
        raise BatchError(problems)
    return plan


# ---- observe ----------------------------------------------------------------------------------

def describe(rds, names):
    """{name: DB} for the given names, one DescribeDBInstances per 100 names (paginated)."""
    found = {}
    names = sorted(set(names))
    for i in range(0, len(names), DESCRIBE_FILTER_LIMIT):
        pages = paginate(rds, "describe_db_instances",
                         Filters=[{"Name": "db-instance-id", "Values": names[i:i + DESCRIBE_FILTER_LIMIT]}])
        found.update((db.name, db) for db in map(DB.from_api, pages.get("DBInstances", [])))
    return found


def observe_targets(rds, cloudwatch, names, lag_max_age_seconds):
    """{name: ReplicaState} of the whole batch: one DescribeDBInstances, one GetMetricData for the available replicas."""
    dbs = describe(rds, names)
    with_lag = sorted(n for n, db in dbs.items() if db.is_replica and db.status == "available")
    lags = read_replica_lag(cloudwatch, with_lag, lag_max_age_seconds) if with_lag else {}
    return {name: ReplicaState(dbs.get(name), lags.get(name)) for name in names}


def observe_sources(clients, requests):
    """{(region, name): DB} of every asked source: one DescribeDBInstances per source region.

    clients: {region: rds client}.
    """
    by_region = {}
    for req in requests:
        by_region.setdefault(req.source_region, set()).add(req.source_name)
    found = {}
    for region, names in sorted(by_region.items()):
        found.update(((region, name), db) for name, db in describe(clients[region], names).items())
    return found


def missing_subnet_groups(rds, requests):
    """The asked DB subnet groups that do not exist in this region (one DescribeDBSubnetGroups each)."""
    missing = set()
    for name in sorted({r.db_subnet_group_name for r in requests if r.db_subnet_group_name}):
        try:
            rds.describe_db_subnet_groups(aws_retry=True, DBSubnetGroupName=name)
        except Exception as exc:  # pylint: disable=broad-except
            if not is_error_code(exc, "DBSubnetGroupNotFoundFault"):
                raise
            missing.add(name)
    return missing


# ---- execute ----------------------------------------------------------------------------------

def create_kwargs(action):
    """CreateDBInstanceReadReplica's parameters for one CreateReplica."""
    req = action.request
    kwargs = dict(
        DBInstanceIdentifier=req.name,
        SourceDBInstanceIdentifier=action.source_arn,  # cross-region: the source's ARN
        SourceRegion=req.source_region,  # botocore signs the PreSignedUrl in the source region with it
        DBInstanceClass=req.instance_class,
        MultiAZ=req.multi_az,
        Tags=[{"Key": k, "Value": v} for k, v in req.tags] + [{"Key": REPLICA_OF_TAG, "Value": action.source_arn}],
    )
    for key, value in (("KmsKeyId", req.kms_key_id), ("DBSubnetGroupName", req.db_subnet_group_name),
                       ("DBParameterGroupName", req.db_parameter_group_name)):
        if value:
            kwargs[key] = value
    if req.vpc_security_group_ids:
        kwargs["VpcSecurityGroupIds"] = list(req.vpc_security_group_ids)
    return kwargs


def start_creations(rds, plan, max_concurrency):
    """Create every CreateReplica, concurrently. Returns {name: exception} for failures (the others go on)."""
    todo = [a for a in plan if isinstance(a, CreateReplica)]

    def create(action):
        rds.create_db_instance_read_replica(aws_retry=True, **create_kwargs(action))
    return {action.name: exc for action, _result, exc in run_concurrently(create, todo, max_concurrency) if exc}


def simulate(plan, observed, region):
    """The end state check mode predicts: each replica there, available and of its source (lag unknown)."""
    end = {}
    for action in plan:
        was = (observed.get(action.name) or ReplicaState(None)).db
        if isinstance(action, CreateReplica):
            db = DB(action.name, "available", action.source_arn, None, action.request.instance_class,
                    tags=dict(action.request.tags))
            end[action.name] = ReplicaState(db, None)
        else:
            end[action.name] = ReplicaState(was, (observed.get(action.name) or ReplicaState(None)).lag_seconds)
    return end


def is_done(action, state, max_lag_seconds):
    if isinstance(action, PromotedSince):
        return True
    return is_in_sync(state, action.source_arn, action.request.source_name, max_lag_seconds)


def outcome(action, state, done, failed, check_mode):
    """created, exists, promoted-since, would-create (check mode), pending or failed."""
    if failed:
        return "failed"
    if isinstance(action, PromotedSince):
        return "promoted-since"
    if check_mode:
        return "would-create" if action.changed else "exists"
    if not done:
        return "pending"
    return "created" if action.changed else "exists"


def progress(state, max_lag_seconds):
    """How far one replica got, for the timeout message."""
    if state is None or state.db is None:
        return "not found"
    if state.db.status != "available":
        return state.db.status
    if state.lag_seconds is None:
        return "available, no ReplicaLag datapoint yet"
    return "available, ReplicaLag %g s > %g s" % (round(state.lag_seconds, 1), max_lag_seconds)
