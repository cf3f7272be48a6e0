# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The core of rds_modify_batch: bring promoted instances to their production shape.

After a failover the promoted databases are still at their at-rest class (db.t3.medium) and
keep the replica's backup setting. This plans, per instance, a ModifyDBInstance (ApplyImmediately)
with only what differs, sends them concurrently and lets the module flow wait for the batch with
one DescribeDBInstances per poll until every instance is `available` with its new class.

Planning is pure (observed state + request -> plan or BatchError). A class change under way
(status `modifying`, PendingModifiedValues.DBInstanceClass the class asked for) is waited on, not
sent again, so a run that was killed can simply be run again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .aws import paginate
from .batch import BatchError, run_concurrently
from .rds_promotion import DESCRIBE_FILTER_LIMIT, normalise_identifiers

# db.<family>.<size>: db.t3.medium, db.r6g.2xlarge, db.x2iedn.24xlarge, db.m5d.large.
_INSTANCE_CLASS = re.compile(r"^db\.[a-z][a-z0-9-]*\.[a-z0-9]+$")
MAX_BACKUP_RETENTION = 35  # days; RDS allows 0 (no automated backups) to 35


@dataclass(frozen=True)
class Instance:
    """What one DescribeDBInstances entry says, reduced to what the plan needs."""

    name: str
    status: str
    instance_class: str | None
    backup_retention_period: int | None
    pending_class: str | None = None  # PendingModifiedValues.DBInstanceClass
    pending_retention: int | None = None  # PendingModifiedValues.BackupRetentionPeriod
    source: str | None = None  # read replica source; None for a standalone instance

    @classmethod
    def from_api(cls, desc):
        pending = desc.get("PendingModifiedValues") or {}
        return cls(
            name=desc["DBInstanceIdentifier"],
            status=desc.get("DBInstanceStatus", "unknown"),
            instance_class=desc.get("DBInstanceClass"),
            backup_retention_period=desc.get("BackupRetentionPeriod"),
            pending_class=pending.get("DBInstanceClass"),
            pending_retention=pending.get("BackupRetentionPeriod"),
            source=desc.get("ReadReplicaSourceDBInstanceIdentifier") or None,
        )

    @property
    def is_replica(self):
        return self.source is not None

    def summary(self):
        return {"status": self.status, "instance_class": self.instance_class,
                "pending_instance_class": self.pending_class,
                "backup_retention_period": self.backup_retention_period}


@dataclass(frozen=True)
class Target:
    """One requested instance: the class and retention it should have (None: leave as it is)."""

    name: str
    instance_class: str | None = None
    backup_retention_period: int | None = None


# ---- plan -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    """One instance's step: `modify` (send ModifyDBInstance), `wait` (a change to the asked class
    is under way), `none` (already so), `skip` (nothing asked for it) or `after_promotion` (still a
    read replica, or not available, while its promotion runs: modified once it is promoted)."""

    name: str
    action: str
    class_before: str | None
    class_after: str | None
    retention_before: int | None
    retention_after: int | None
    class_asked: bool = False
    retention_asked: bool = False
    # What the ModifyDBInstance of a `modify` step sends: only what differs from what is there.
    class_change: bool = False
    retention_change: bool = False

    @property
    def changed(self):
        return self.action in ("modify", "after_promotion")

    def as_dict(self):
        return {"name": self.name, "action": self.action,
                "instance_class": {"before": self.class_before, "after": self.class_after},
                "backup_retention_period": {"before": self.retention_before, "after": self.retention_after}}


def normalise_targets(instances, region, default_class=None, default_retention=None):
    """The request as Targets (entry values over the module-wide defaults); every bad value named."""
    if not instances:
        raise BatchError(["instances is empty: name at least one DB instance"])
    problems, raw = [], []
    for entry in instances:
        entry = dict(entry)
        raw.append(Target(str(entry.get("name") or "").strip(),
                          entry.get("instance_class") if entry.get("instance_class") is not None else default_class,
                          (entry.get("backup_retention_period") if entry.get("backup_retention_period") is not None
                           else default_retention)))
    try:
        names = normalise_identifiers([t.name for t in raw], region)
    except BatchError as err:
        problems.extend(err.problems)
        names = [t.name for t in raw]
    for target in raw:
        cls = target.instance_class
        if cls is not None and not _INSTANCE_CLASS.match(str(cls)):
            problems.append("%s: instance_class %r is not a DB instance class (db.<family>.<size>, e.g. db.r6g.large)"
                            % (target.name, cls))
        days = target.backup_retention_period
        if days is not None and not 0 <= days <= MAX_BACKUP_RETENTION:
            problems.append("%s: backup_retention_period must be 0 to %d days, got %s" % (target.name, MAX_BACKUP_RETENTION, days))
    if problems:
        raise BatchError(problems)
    return [Target(name, t.instance_class, t.backup_retention_period) for name, t in zip(names, raw)]


def plan_changes(targets, observed, region, after_promotion=False):
    """Decide, for every target, modify / wait / none / skip (/ after_promotion); or refuse the whole batch.

    Refused: an instance that does not exist; backup_retention_period for an instance that is
    still a read replica (RDS for PostgreSQL replicas keep no automated backups: promote first);
    a change for an instance that is not `available` unless it is the asked class change under way
    (RDS refuses ModifyDBInstance then, InvalidDBInstanceState). With after_promotion (its promotion
    runs beside this), an instance that is still a replica or not available is not refused: its
    change waits until it is promoted (`after_promotion`, then planned again by itself).
    """
    problems, plan = [], []
    for t in targets:
        inst = observed.get(t.name)
        if inst is None:
            problems.append("%s: no DB instance of that name in %s" % (t.name, region))
            continue
        class_asked, retention_asked = t.instance_class is not None, t.backup_retention_period is not None
        class_after = t.instance_class if class_asked else inst.instance_class
        retention_after = t.backup_retention_period if retention_asked else inst.backup_retention_period
        step = dict(name=t.name, class_before=inst.instance_class, class_after=class_after,
                    retention_before=inst.backup_retention_period, retention_after=retention_after,
                    class_asked=class_asked, retention_asked=retention_asked)
        class_ok = not class_asked or (inst.instance_class == t.instance_class and inst.pending_class is None)
        retention_ok = not retention_asked or (inst.backup_retention_period == t.backup_retention_period
                                               and inst.pending_retention is None)
        if not class_asked and not retention_asked:
            plan.append(Change(action="skip", **step))
        elif class_ok and retention_ok:
            plan.append(Change(action="none", **step))
        elif after_promotion and not is_promoted(inst) and not _under_way(inst, t, class_ok, retention_ok):
            plan.append(Change(action="after_promotion", class_change=not class_ok, retention_change=not retention_ok,
                               **step))
        elif inst.status != "available":
            if _under_way(inst, t, class_ok, retention_ok):
                plan.append(Change(action="wait", **step))
            else:
                problems.append("%s: is %s, not available; RDS refuses a modification now (run again once the "
                                "promotion or the change under way has finished)" % (t.name, inst.status))
        elif retention_asked and not retention_ok and inst.is_replica:
            problems.append("%s: is still a read replica of %s; backup_retention_period applies once it is promoted "
                            "(RDS for PostgreSQL read replicas keep no automated backups)" % (t.name, inst.source))
        else:
            plan.append(Change(action="modify", class_change=not class_ok, retention_change=not retention_ok, **step))
    if problems:
        raise BatchError(problems)
    return plan


def _under_way(inst, target, class_ok, retention_ok):
    """Everything asked is either so already or the pending change RDS is applying now."""
    class_going = class_ok or inst.pending_class == target.instance_class
    retention_going = retention_ok or inst.pending_retention == target.backup_retention_period
    return inst.status == "modifying" and class_going and retention_going


def is_promoted(inst):
    """A standalone instance (no replication source) that is `available`: RDS takes a change now."""
    return inst is not None and not inst.is_replica and inst.status == "available"


def is_shaped(change, inst):
    """The readiness predicate: available, with the asked class (nothing pending) and retention."""
    if inst is None or inst.status != "available":
        return False
    if change.class_asked and (inst.instance_class != change.class_after or inst.pending_class is not None):
        return False
    return not change.retention_asked or inst.backup_retention_period == change.retention_after


# ---- observe / execute ------------------------------------------------------------------------

def describe_instances(rds, names):
    """{name: Instance} for the given names: one DescribeDBInstances (per 100 names) for the batch."""
    found, names = {}, list(names)
    for i in range(0, len(names), DESCRIBE_FILTER_LIMIT):
        pages = paginate(rds, "describe_db_instances",
                         Filters=[{"Name": "db-instance-id", "Values": names[i:i + DESCRIBE_FILTER_LIMIT]}])
        found.update((inst.name, inst) for inst in map(Instance.from_api, pages.get("DBInstances", [])))
    return found


def modify_request(change):
    """The ModifyDBInstance parameters of one `modify` step: only what differs, applied now."""
    kwargs = {"DBInstanceIdentifier": change.name, "ApplyImmediately": True}
    if change.class_change:
        kwargs["DBInstanceClass"] = change.class_after
    if change.retention_change:
        kwargs["BackupRetentionPeriod"] = change.retention_after
    return kwargs


def start_modifications(rds, plan, max_concurrency):
    """Send every `modify` step, concurrently. Returns {name: exception} for the failures."""
    todo = [c for c in plan if c.action == "modify"]
    results = run_concurrently(lambda c: rds.modify_db_instance(aws_retry=True, **modify_request(c)), todo, max_concurrency)
    return {change.name: exc for change, _result, exc in results if exc}


def simulate(plan, observed):
    """The end state check mode predicts: available, with the class and retention asked for."""
    out = {}
    for c in plan:
        was = observed[c.name]
        promoted = c.action == "after_promotion"
        out[c.name] = Instance(c.name, "available" if c.action in ("modify", "wait", "after_promotion") else was.status,
                               c.class_after, c.retention_after, None if c.class_asked else was.pending_class, None,
                               None if promoted else was.source)
    return out


def outcome(change, now, failed, check_mode):
    """modified, unchanged, skipped, would-modify (check mode), pending or failed."""
    if failed:
        return "failed"
    if change.action in ("none", "skip"):
        return "unchanged" if change.action == "none" else "skipped"
    if check_mode:
        return "would-modify" if change.changed else "pending"
    return "modified" if is_shaped(change, now) else "pending"
