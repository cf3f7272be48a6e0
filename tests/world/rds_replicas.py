"""World realism for the failback's databases: new replicas, final snapshots, deletions take time.

moto creates a read replica, a snapshot and deletes an instance at once. Real RDS:

* ``CreateDBInstanceReadReplica``: the replica is ``creating`` (already naming its source) for
  some minutes, then ``available``; RDS then publishes its ``AWS/RDS ReplicaLag``. Here it is
  ``creating`` for ``rds_replica_creation_seconds`` and, once available, publishes
  ``rds_replica_lag_seconds`` (null: no datapoint) through realism.set_lag. The default creation
  time is 0 because the seed makes its replicas this way and tests act on them at once; failback
  tests set it (e.g. 1 s) so the wait is real.
* Every instance has its own ``DbiResourceId`` (moto gives all the same one) and a replica its
  own create time (moto copies its source's), so a snapshot tells which instance it is of.
* ``CreateDBSnapshot`` (also the final snapshot of ``DeleteDBInstance``) is ``creating`` for
  ``rds_snapshot_seconds``, then ``available``; it is refused for an instance that is not
  ``available`` (``InvalidDBInstanceState``).
* ``DeleteDBInstance``: the instance is ``deleting`` for ``rds_delete_seconds``, then gone; a
  second delete meanwhile is refused; without ``FinalDBSnapshotIdentifier`` it needs
  ``SkipFinalSnapshot`` (``InvalidParameterCombination``), as on RDS.

Completion is by wall-clock time, checked at the start of every request (``settle``). Hooked in
by realism.EXTENSIONS.
"""

from __future__ import annotations

import secrets
import string
import time
from typing import Any

from .realism import STATE, set_lag

CONFIG = {
    "rds_replica_creation_seconds": 0.0,
    "rds_replica_lag_seconds": 0.0,
    "rds_snapshot_seconds": 0.0,
    "rds_delete_seconds": 0.0,
}
CONFIG_TYPES = {
    "rds_replica_creation_seconds": (int, float),
    "rds_replica_lag_seconds": (int, float, type(None)),
    "rds_snapshot_seconds": (int, float),
    "rds_delete_seconds": (int, float),
}

# (account, region, id) -> monotonic deadline
_CREATING: dict[tuple[str, str, str], float] = {}
_SNAPSHOTTING: dict[tuple[str, str, str], float] = {}
_DELETING: dict[tuple[str, str, str], float] = {}


def _seconds(key: str) -> float:
    return float(STATE.config.get(key) or 0)


def _resource_id() -> str:
    return "db-" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(26))


def _invalid_state(message: str) -> Exception:
    from moto.rds.exceptions import RDSClientError

    return RDSClientError("InvalidDBInstanceState", message)


def _publish_lag(region: str, db_id: str) -> None:
    lag = STATE.config.get("rds_replica_lag_seconds")
    if lag is not None:
        set_lag(db_id, float(lag), region)


def _init(original):
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.dbi_resource_id = _resource_id()

    return init


def _create_db_instance_read_replica(original):
    def create(self: Any, db_kwargs: Any) -> Any:
        from moto.core.utils import utcnow

        replica = original(self, db_kwargs)
        with STATE.lock:
            replica.dbi_resource_id = _resource_id()
            replica.created = utcnow()
            replica.instance_create_time = replica.created
            seconds = _seconds("rds_replica_creation_seconds")
            if seconds > 0:
                replica.status = "creating"
                _CREATING[(self.account_id, self.region_name, replica.db_instance_identifier)] = time.monotonic() + seconds
            else:
                _publish_lag(self.region_name, replica.db_instance_identifier)
        return replica

    return create


def _create_db_snapshot(original):
    def create(self: Any, db_instance_identifier: str, db_snapshot_identifier: str, *args: Any, **kwargs: Any) -> Any:
        database = self.databases.get(db_instance_identifier)
        if database is not None and database.status != "available":
            raise _invalid_state("Cannot create a snapshot because the database instance %s is not currently in the "
                                 "available state." % db_instance_identifier)
        snapshot = original(self, db_instance_identifier, db_snapshot_identifier, *args, **kwargs)
        seconds = _seconds("rds_snapshot_seconds")
        if seconds > 0:
            with STATE.lock:
                snapshot.status = "creating"
                _SNAPSHOTTING[(self.account_id, self.region_name, snapshot.db_snapshot_identifier)] = time.monotonic() + seconds
        return snapshot

    return create


def _delete_db_instance(original):
    def delete(self: Any, db_instance_identifier: str, final_db_snapshot_identifier: str | None = None,
               skip_final_snapshot: bool | None = False, delete_automated_backups: bool | None = True) -> Any:
        from moto.rds.exceptions import InvalidParameterCombination

        database = self.databases.get(db_instance_identifier)
        if database is not None and database.status == "deleting":
            raise _invalid_state("Instance %s is already being deleted." % db_instance_identifier)
        if not skip_final_snapshot and not final_db_snapshot_identifier:
            raise InvalidParameterCombination("FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.")
        database = original(self, db_instance_identifier, final_db_snapshot_identifier, skip_final_snapshot,
                            delete_automated_backups)
        seconds = _seconds("rds_delete_seconds")
        if seconds > 0:
            with STATE.lock:
                # Listed (deleting) until its time is up, like RDS.
                database.status = "deleting"
                self.databases[db_instance_identifier] = database
                _DELETING[(self.account_id, self.region_name, db_instance_identifier)] = time.monotonic() + seconds
        return database

    return delete


def settle() -> None:
    from moto.rds.models import rds_backends

    with STATE.lock:
        now = time.monotonic()
        for key in [k for k, deadline in _CREATING.items() if deadline <= now]:
            del _CREATING[key]
            account, region, db_id = key
            database = rds_backends[account][region].databases.get(db_id)
            if database is not None and database.status == "creating":
                database.status = "available"
                _publish_lag(region, db_id)
        for key in [k for k, deadline in _SNAPSHOTTING.items() if deadline <= now]:
            del _SNAPSHOTTING[key]
            account, region, snap_id = key
            snapshot = rds_backends[account][region].database_snapshots.get(snap_id)
            if snapshot is not None:
                snapshot.status = "available"
        for key in [k for k, deadline in _DELETING.items() if deadline <= now]:
            del _DELETING[key]
            account, region, db_id = key
            databases = rds_backends[account][region].databases
            if db_id in databases and databases[db_id].status == "deleting":
                del databases[db_id]


def forget() -> None:
    with STATE.lock:
        _CREATING.clear()
        _SNAPSHOTTING.clear()
        _DELETING.clear()


def install() -> None:
    from moto.rds.models import DBInstance, RDSBackend

    DBInstance.__init__ = _init(DBInstance.__init__)
    RDSBackend.create_db_instance_read_replica = _create_db_instance_read_replica(RDSBackend.create_db_instance_read_replica)
    RDSBackend.create_db_snapshot = _create_db_snapshot(RDSBackend.create_db_snapshot)
    RDSBackend.delete_db_instance = _delete_db_instance(RDSBackend.delete_db_instance)
