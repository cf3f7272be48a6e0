"""World realism for ModifyDBInstance: a class change takes time, as on RDS.

moto applies every ModifyDBInstance at once. Real RDS, for a new DBInstanceClass:

* with ApplyImmediately, answers with the old class and ``PendingModifiedValues.DBInstanceClass``
  set to the new one, goes ``modifying``, and some minutes later is ``available`` with the new
  class and no pending value; here that takes ``rds_modify_seconds`` (default 1 s);
* without it, keeps the change pending (shown in ``PendingModifiedValues``) until the maintenance
  window, which never comes here: the instance stays ``available`` with the old class;
* refuses a modification of an instance that is not ``available`` (e.g. still promoting) with
  ``InvalidDBInstanceState``.

Other settings (BackupRetentionPeriod...) apply at once, as moto does. Completion is by wall-clock
time, checked at the start of every request (``settle``), like the promotions in realism.py.
Hooked in by realism.EXTENSIONS.
"""

from __future__ import annotations

import time
from typing import Any

from .realism import STATE

CONFIG = {"rds_modify_seconds": 1.0}
CONFIG_TYPES = {"rds_modify_seconds": (int, float)}

# (account, region, db id) -> monotonic deadline of a class change applied immediately
_MODIFYING: dict[tuple[str, str, str], float] = {}


def _pending(database: Any) -> dict[str, Any]:
    return dict(getattr(database, "pending_modified_values", None) or {})


def _set_pending(database: Any, pending: dict[str, Any]) -> None:
    # None, not {}: moto's serializer then leaves PendingModifiedValues out, which boto3 reads as absent.
    database.pending_modified_values = pending or None


def _modify_db_instance(original):
    def modify(self: Any, db_instance_identifier: str, db_kwargs: dict[str, Any]) -> Any:
        from moto.rds.exceptions import RDSClientError

        database = self.describe_db_instances(db_instance_identifier)[0]  # DBInstanceNotFound
        with STATE.lock:
            if database.status != "available":
                raise RDSClientError("InvalidDBInstanceState", "Database instance is not in available state.")
            new_class = db_kwargs.pop("db_instance_class", None)
            pending = _pending(database)
            if new_class and new_class != database.db_instance_class:
                pending["DBInstanceClass"] = new_class
            elif new_class:  # asked for the class it has: a pending change to another is dropped
                pending.pop("DBInstanceClass", None)
            result = original(self, db_instance_identifier, db_kwargs)
            _set_pending(database, pending)
            if db_kwargs.get("apply_immediately") and "DBInstanceClass" in pending:
                database.status = "modifying"
                key = (self.account_id, self.region_name, database.db_instance_identifier)
                _MODIFYING[key] = time.monotonic() + float(STATE.config.get("rds_modify_seconds", 1.0))
        return result

    return modify


def _complete(account: str, region: str, db_id: str) -> None:
    from moto.rds.models import rds_backends

    database = rds_backends[account][region].databases.get(db_id)
    if database is None:  # deleted meanwhile
        return
    pending = _pending(database)
    if "DBInstanceClass" in pending:
        database.db_instance_class = pending.pop("DBInstanceClass")
    _set_pending(database, pending)
    database.status = "available"


def settle() -> None:
    with STATE.lock:
        now = time.monotonic()
        for key in [k for k, deadline in _MODIFYING.items() if deadline <= now]:
            del _MODIFYING[key]
            _complete(*key)


def forget() -> None:
    with STATE.lock:
        _MODIFYING.clear()


def install() -> None:
    from moto.rds.models import RDSBackend

    RDSBackend.modify_db_instance = _modify_db_instance(RDSBackend.modify_db_instance)
