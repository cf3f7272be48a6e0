# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The core of rds_retire_batch: a final snapshot of each old instance, then (only if asked) its deletion.

After the failback the standby region's primaries are retired: each gets a final manual snapshot
and, with `delete`, is deleted (DeleteDBInstance with FinalDBSnapshotIdentifier, RDS's own
snapshot-then-delete). Without `delete` only the snapshot is taken and the instance is kept.
The snapshot name is fixed by the caller (or derived `<id>-final-<stamp>`), so a rerun finds the
snapshot it took and does not take it again; a snapshot of that name of another instance (its
DbiResourceId differs) is refused rather than trusted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .aws import paginate
from .batch import BatchError, duplicates, run_concurrently
from .rds_promotion import _ARN, _IDENTIFIER, DESCRIBE_FILTER_LIMIT
from .rds_replicas import describe

# RDS: 1-255 letters, digits or hyphens; starts with a letter; no trailing or double hyphen.
_SNAPSHOT_ID = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,254}(?<!-)$")
_STAMP = re.compile(r"^[a-zA-Z0-9](?!.*--)[a-zA-Z0-9-]*(?<!-)$")


@dataclass(frozen=True)
class Snapshot:
    name: str
    status: str
    instance: str | None = None
    dbi_resource_id: str | None = None
    arn: str | None = None

    @classmethod
    def from_api(cls, desc):
        return cls(name=desc["DBSnapshotIdentifier"].lower(), status=desc.get("Status", "unknown"),
                   instance=desc.get("DBInstanceIdentifier"), dbi_resource_id=desc.get("DbiResourceId"),
                   arn=desc.get("DBSnapshotArn"))


@dataclass(frozen=True)
class RetireState:
    """One instance as a poll sees it: the instance (None: gone) and its final snapshot (None: none)."""

    db: object = None
    snapshot: Snapshot | None = None

    def summary(self):
        return {"instance_status": self.db.status if self.db else None,
                "snapshot_status": self.snapshot.status if self.snapshot else None}


@dataclass(frozen=True)
class Target:
    name: str
    snapshot: str  # final snapshot identifier, lower case as RDS keeps it


@dataclass(frozen=True)
class Step:
    """What the plan does for one instance.

    action: snapshot (CreateDBSnapshot), snapshot-and-delete (DeleteDBInstance with a final
    snapshot), delete (the final snapshot is there: DeleteDBInstance skipping another), wait (a
    snapshot or deletion under way) or none.
    """

    name: str
    snapshot: str
    action: str
    delete: bool

    @property
    def changed(self):
        return self.action in ("snapshot", "snapshot-and-delete", "delete")

    def as_dict(self):
        return {"name": self.name, "action": self.action, "snapshot": self.snapshot, "delete": self.delete}


def normalise_targets(entries, region, snapshot_stamp=None):
    """Turn the `instances` option into Targets; every bad value is named, nothing is read."""
    if not entries:
        raise BatchError(["instances is empty: name at least one DB instance to retire"])
    problems, targets, names = [], [], []
    if snapshot_stamp is not None and not _STAMP.match(snapshot_stamp):
        problems.append("snapshot_stamp %r is not letters, digits and single hyphens" % snapshot_stamp)
        snapshot_stamp = None
    for index, entry in enumerate(entries):
        name = str(entry.get("name") or "").strip()
        arn = _ARN.match(name)
        if arn:
            if arn.group("region") != region:
                problems.append("%s is in region %s, not %s" % (name, arn.group("region"), region))
                continue
            name = arn.group("name")
        if not _IDENTIFIER.match(name):
            problems.append("%r is not a valid DB instance identifier" % (name or "instances[%d]" % index))
            continue
        names.append(name)
        snapshot = entry.get("final_snapshot_identifier")
        if not snapshot:
            if not snapshot_stamp:
                problems.append("%s: no final_snapshot_identifier, and no snapshot_stamp to name it <id>-final-<stamp>" % name)
                continue
            snapshot = "%s-final-%s" % (name, snapshot_stamp)
        if not _SNAPSHOT_ID.match(snapshot):
            problems.append("%s: %r is not a valid DB snapshot identifier" % (name, snapshot))
            continue
        targets.append(Target(name, snapshot.lower()))
    for what, values in (("DB instance identifiers", names),
                         ("final snapshot identifiers", [t.snapshot for t in targets])):
        dups = duplicates(values)
        if dups:
            problems.append("duplicate %s: %s" % (what, ", ".join(dups)))
    if problems:
        raise BatchError(problems)
    return targets


def plan_retirement(targets, observed, region, delete):
    """Decide, per instance, snapshot / snapshot-and-delete / delete / wait / none; or refuse the batch.

    observed: {name: RetireState}. Refused: a snapshot of that name of another instance; with
    delete, an instance that is still the source of read replicas (named), has deletion
    protection, or is not available; a final snapshot still being created when the instance is
    to be deleted (run again once it is available); a snapshot of an instance that is not available.
    """
    problems, plan = [], []
    for t in targets:
        state = observed.get(t.name) or RetireState()
        db, snap = state.db, state.snapshot
        if snap is not None and (snap.instance != t.name or (
                db is not None and snap.dbi_resource_id and db.dbi_resource_id and snap.dbi_resource_id != db.dbi_resource_id)):
            problems.append("%s: snapshot %s already exists but is of another instance (%s, %s); choose another "
                            "final_snapshot_identifier or snapshot_stamp" % (t.name, t.snapshot, snap.instance, snap.dbi_resource_id))
            continue
        snap_ready = snap is not None and snap.status == "available"
        if db is None or db.status == "deleting":
            # Gone (or going): nothing left to do but wait for what is under way.
            busy = (db is not None and delete) or (snap is not None and not snap_ready)
            plan.append(Step(t.name, t.snapshot, "wait" if busy else "none", delete))
            continue
        if delete:
            # Every reason not to delete it, named.
            reasons = []
            if db.replicas:
                reasons.append("%s: still the source of read replica(s) %s; refusing to delete it"
                               % (t.name, ", ".join(db.replicas)))
            if db.deletion_protection:
                reasons.append("%s: has deletion protection on; refusing to delete it" % t.name)
            if db.status != "available":
                reasons.append("%s: is %s, not available; no final snapshot can be taken now" % (t.name, db.status))
            if reasons:
                problems.extend(reasons)
            elif snap is None:
                plan.append(Step(t.name, t.snapshot, "snapshot-and-delete", delete))
            elif snap_ready:
                plan.append(Step(t.name, t.snapshot, "delete", delete))
            else:
                problems.append("%s: final snapshot %s is still %s; run again once it is available (nothing was deleted)"
                                % (t.name, t.snapshot, snap.status))
            continue
        if snap is None:
            if db.status != "available":
                problems.append("%s: is %s, not available; no snapshot can be taken now" % (t.name, db.status))
            else:
                plan.append(Step(t.name, t.snapshot, "snapshot", delete))
        else:
            plan.append(Step(t.name, t.snapshot, "none" if snap_ready else "wait", delete))
    if problems:
        raise BatchError(problems)
    return plan


# ---- observe ----------------------------------------------------------------------------------

def describe_snapshots(rds, names):
    """{snapshot id: Snapshot} for the given ids, one DescribeDBSnapshots per 100 (paginated)."""
    found = {}
    names = sorted(set(names))
    for i in range(0, len(names), DESCRIBE_FILTER_LIMIT):
        pages = paginate(rds, "describe_db_snapshots",
                         Filters=[{"Name": "db-snapshot-id", "Values": names[i:i + DESCRIBE_FILTER_LIMIT]}])
        found.update((s.name, s) for s in map(Snapshot.from_api, pages.get("DBSnapshots", [])))
    return found


def observe(rds, targets):
    """{name: RetireState} for the batch: one DescribeDBInstances and one DescribeDBSnapshots."""
    dbs = describe(rds, [t.name for t in targets])
    snaps = describe_snapshots(rds, [t.snapshot for t in targets])
    return {t.name: RetireState(dbs.get(t.name), snaps.get(t.snapshot)) for t in targets}


# ---- execute ----------------------------------------------------------------------------------

def start_retirements(rds, plan, max_concurrency, delete_automated_backups=False):
    """Snapshot and/or delete, concurrently. Returns {name: exception} for failures (the others go on)."""
    def run(step):
        if step.action == "snapshot":
            rds.create_db_snapshot(aws_retry=True, DBInstanceIdentifier=step.name, DBSnapshotIdentifier=step.snapshot)
            return
        if step.action not in ("snapshot-and-delete", "delete"):
            return
        final = dict(FinalDBSnapshotIdentifier=step.snapshot) if step.action == "snapshot-and-delete" else dict(SkipFinalSnapshot=True)
        try:
            rds.delete_db_instance(aws_retry=True, DBInstanceIdentifier=step.name, DeleteAutomatedBackups=delete_automated_backups,
                                   **final)
        except Exception:
            # An answer lost after the delete took effect (a 500 sent after the work was done, a connection
            # reset; its retry then finds no instance): an instance already deleting or gone is what was asked
            # for, and the wait's polls judge the rest (the final snapshot). Anything else fails the step.
            found = describe(rds, [step.name]).get(step.name)
            if found is not None and found.status != "deleting":
                raise
    todo = [s for s in plan if s.changed]
    return {step.name: exc for step, _result, exc in run_concurrently(run, todo, max_concurrency) if exc}


def is_done(step, state):
    """Snapshot available (unless the instance went without one before this run) and, with delete, the instance gone."""
    state = state or RetireState()
    if state.db is not None and (step.delete or state.db.status == "deleting"):
        return False
    if state.snapshot is None:
        # Gone before this run without that snapshot: nothing can be done about it (reported as absent).
        return state.db is None and step.action == "none"
    return state.snapshot.status == "available"


def simulate(plan, observed):
    """The end state check mode predicts: snapshot available, the instance gone when deleted."""
    end = {}
    for step in plan:
        was = observed.get(step.name) or RetireState()
        snap = was.snapshot
        if step.action in ("snapshot", "snapshot-and-delete"):
            snap = Snapshot(step.snapshot, "available", step.name, was.db.dbi_resource_id if was.db else None)
        end[step.name] = RetireState(None if step.delete else was.db, snap)
    return end


def outcome(step, before, after, done, failed, check_mode):
    """snapshotted, deleted, kept (snapshot there, instance kept), retired (already gone with its snapshot),
    absent (gone, no such snapshot), would-snapshot / would-delete (check mode), pending or failed."""
    if failed:
        return "failed"
    if check_mode and step.changed:
        return "would-delete" if step.delete else "would-snapshot"
    if before.db is None and before.snapshot is None and step.action == "none":
        return "absent"
    if not check_mode and not done:
        return "pending"
    if step.delete or after.db is None:
        return "deleted" if step.changed or before.db is not None else "retired"
    return "snapshotted" if step.changed else "kept"
