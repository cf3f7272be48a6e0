"""The realism layer: what real AWS does in a disaster-recovery run and moto does not.

All state lives in this module (one world per process, like moto's own backends)
and is changed at runtime through the control API in ``server.py``.

moto is patched in place, once, by :func:`install` (done when the server starts):

* RDS read replicas describe with ``StatusInfos`` (read replication / replicating),
  as real RDS does; amazon.aws.rds_instance and the RDS waiters decide "is a
  replica" from it.
* ``PromoteReadReplica`` takes time: the instance goes ``modifying`` and stays a
  replica (source named, StatusInfos present) for ``promotion_seconds``; then it
  is ``available``, standalone, and its source (possibly in another region's
  backend) no longer lists it. Promoting a non-replica, or an instance that is not
  ``available`` (e.g. already promoting), fails with ``InvalidDBInstanceState``.
  Completion is by wall-clock time, checked lazily at the start of every request,
  so a client killed mid-wait that comes back later finds the promotion done.
  Completion touches the source's backend in-process, so it works while the
  source region is "down" (outages are simulated at the HTTP layer only).
* gp3 instances describe with their baseline ``Iops``/``StorageThroughput``.
* CloudWatch ``AWS/RDS ReplicaLag`` is published for replicas whose lag was set,
  refreshed every ``lag_publish_seconds`` (lazily, on CloudWatch calls) like RDS
  publishes it every minute, and no longer once the instance stopped being a replica.
* Route 53 ``GetHealthCheckStatus`` reports failure for health checks whose target
  is in a down region (or that are listed in ``failing_health_checks``);
  moto hard-codes "Success".
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

DEFAULT_CONFIG: dict[str, Any] = {
    # PromoteReadReplica: seconds an instance stays "modifying" before it is standalone.
    "promotion_seconds": 0.0,
    # Added to every AWS call (not to /_world or /moto-api).
    "latency_ms": 0,
    # Regions whose API calls fail (HTTP 503 ServiceUnavailable) or hang.
    "down_regions": [],
    "outage_mode": "error",  # "error" | "timeout"
    "outage_timeout_seconds": 30.0,  # how long a call hangs in "timeout" mode before the 503
    # {"service:Operation": {"code": str, "status": int, "count": int, "message": str, "region": str}}
    # count: how many next calls fail (default 1; -1: all of them until removed);
    # region: only calls signed for that region. Removed once count is used up.
    "faults": {},
    # Route 53 health check ids that report failure whatever the regions do.
    "failing_health_checks": [],
    # How often (seconds) a set ReplicaLag value is re-published as a fresh datapoint.
    "lag_publish_seconds": 60.0,
}

_CONFIG_TYPES = {
    "promotion_seconds": (int, float),
    "latency_ms": (int, float),
    "down_regions": list,
    "outage_mode": str,
    "outage_timeout_seconds": (int, float),
    "faults": dict,
    "failing_health_checks": list,
    "lag_publish_seconds": (int, float),
}

STANDBY_REGION = "eu-west-2"


class ConfigError(ValueError):
    pass


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class WorldState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.config: dict[str, Any] = copy.deepcopy(DEFAULT_CONFIG)
            # (account, region, db id) -> monotonic deadline of the promotion
            self.promotions: dict[tuple[str, str, str], float] = {}
            # (region, replica id) -> {"seconds": float, "published": monotonic}
            self.lags: dict[tuple[str, str], dict[str, float]] = {}
            self.reset_calls()

    def forget_resources(self) -> None:
        """Drop state tied to moto resources (after a bare POST /moto-api/reset)."""
        with self.lock:
            self.promotions.clear()
            self.lags.clear()

    def reset_calls(self) -> None:
        with self.lock:
            self.calls: dict[str, int] = {}
            self.calls_by_region: dict[str, dict[str, int]] = {}
            self.errors: dict[str, int] = {}

    # --- config ---

    def configure(self, patch: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(patch, dict):
            raise ConfigError("config patch must be a JSON object")
        unknown = set(patch) - set(DEFAULT_CONFIG)
        if unknown:
            raise ConfigError(f"unknown config keys: {sorted(unknown)}")
        with self.lock:
            new = merge_patch(self.config, patch)
            for key, default in DEFAULT_CONFIG.items():
                new.setdefault(key, copy.deepcopy(default))  # a null resets a key to its default
                if not isinstance(new[key], _CONFIG_TYPES[key]) or isinstance(new[key], bool):
                    raise ConfigError(f"config key {key!r} has the wrong type: {new[key]!r}")
            if new["outage_mode"] not in ("error", "timeout"):
                raise ConfigError("outage_mode must be 'error' or 'timeout'")
            for name, fault in new["faults"].items():
                if not isinstance(fault, dict) or ":" not in name:
                    raise ConfigError(f"fault {name!r} must be 'service:Operation' -> object")
            self.config = new
            return copy.deepcopy(new)

    def snapshot_config(self) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self.config)

    # --- calls ---

    def count(self, name: str, region: str) -> None:
        with self.lock:
            self.calls[name] = self.calls.get(name, 0) + 1
            per_region = self.calls_by_region.setdefault(region, {})
            per_region[name] = per_region.get(name, 0) + 1

    def count_error(self, name: str) -> None:
        with self.lock:
            self.errors[name] = self.errors.get(name, 0) + 1

    def calls_report(self) -> dict[str, Any]:
        with self.lock:
            return {
                "total": sum(self.calls.values()),
                "by_operation": dict(sorted(self.calls.items())),
                "by_region": {r: dict(sorted(c.items())) for r, c in sorted(self.calls_by_region.items())},
                "errors": dict(sorted(self.errors.items())),
            }

    def take_fault(self, name: str, region: str) -> dict[str, Any] | None:
        """Return the fault to inject for this call, consuming one of its count."""
        with self.lock:
            fault = self.config["faults"].get(name)
            if not fault or fault.get("region", region) != region:
                return None
            count = int(fault.get("count", 1))
            if count == 0:
                del self.config["faults"][name]
                return None
            if count > 0:  # a negative count: every call, until the fault is removed
                if count <= 1:
                    del self.config["faults"][name]
                else:
                    fault["count"] = count - 1
            return dict(fault)


STATE = WorldState()


# --- RDS -------------------------------------------------------------------

_REPLICATING = [{"StatusType": "read replication", "Normal": True, "Status": "replicating"}]


def _status_infos(self: Any) -> list[dict[str, Any]] | None:
    # None (not []) once standalone: the ReadReplicaPromoted waiter tests
    # length(DBInstances[].StatusInfos) == 0, which an empty list would defeat.
    if getattr(self, "is_replica", False) and self.source_db_instance_identifier:
        return copy.deepcopy(_REPLICATING)
    return None


def _promote_read_replica(self: Any, db_kwargs: Any) -> Any:
    from moto.rds.exceptions import RDSClientError

    database = self.describe_db_instances(db_kwargs["db_instance_identifier"])[0]  # DBInstanceNotFound
    with STATE.lock:
        key = (self.account_id, self.region_name, database.db_instance_identifier)
        if key in STATE.promotions or database.status != "available":
            raise RDSClientError("InvalidDBInstanceState", "Database instance is not in available state.")
        if not (database.is_replica and database.source_db_instance_identifier):
            raise RDSClientError("InvalidDBInstanceState", "DB Instance is not a read replica.")
        # The two settings PromoteReadReplica itself accepts apply at once.
        for option in ("backup_retention_period", "preferred_backup_window"):
            value = db_kwargs.get(option)
            if value is not None:
                setattr(database, option, value)
        database.status = "modifying"
        STATE.promotions[key] = time.monotonic() + float(STATE.config["promotion_seconds"])
    return database


def _complete_promotion(account: str, region: str, db_id: str) -> None:
    from moto.rds.exceptions import DBInstanceNotFoundError
    from moto.rds.models import rds_backends

    backend = rds_backends[account][region]
    database = backend.databases.get(db_id)
    if database is None:  # deleted meanwhile
        return
    source_id = database.source_db_instance_identifier
    if source_id:
        try:
            source = backend.find_db_from_id(source_id)
        except DBInstanceNotFoundError:
            source = None
        if source is not None:
            # A cross-region source lists its replica by ARN, a same-region one by id.
            for ref in (database.db_instance_arn, database.db_instance_identifier):
                if ref in source.replicas:
                    source.replicas.remove(ref)
    database.is_replica = False
    database.source_db_instance_identifier = None
    database.status = "available"


def settle() -> None:
    """Finish every promotion whose time is up. Called at the start of each request."""
    with STATE.lock:
        now = time.monotonic()
        for key in [k for k, deadline in STATE.promotions.items() if deadline <= now]:
            del STATE.promotions[key]
            _complete_promotion(*key)


def _create_db_instance_read_replica(original):
    def create(self: Any, db_kwargs: Any) -> Any:
        replica = original(self, db_kwargs)
        # moto builds the replica with copy.copy(primary): un-share the mutable
        # lists, so tagging the replica does not tag its primary.
        for attr in ("tags", "vpc_security_group_ids", "db_security_groups", "enabled_cloudwatch_logs_exports"):
            if isinstance(getattr(replica, attr, None), list):
                setattr(replica, attr, list(getattr(replica, attr)))
        return replica

    return create


def _remove_replica(self: Any, replica: Any) -> None:
    # moto adds cross-region replicas by ARN but removes by id (ValueError on delete).
    for ref in (replica.db_instance_arn, replica.db_instance_identifier):
        if ref in self.replicas:
            self.replicas.remove(ref)


def _gp3_baseline(db: Any) -> tuple[int, int] | None:
    """(IOPS, MiB/s) RDS reports for gp3 storage without explicit values; None if not gp3.

    Real RDS always describes gp3 instances with Iops and StorageThroughput (the
    baseline: 3000/125 below 400 GiB, 12000/500 from 400 GiB); moto leaves both
    out and amazon.aws.rds_instance then fails with KeyError 'StorageThroughput'.
    (getattr: these are read while moto's __init__ is still setting attributes.)
    """
    if getattr(db, "_storage_type", None) != "gp3":
        return None
    return (3000, 125) if (getattr(db, "_allocated_storage", 0) or 0) < 400 else (12000, 500)


def _patch_gp3(db_class: Any) -> None:
    throughput = db_class.storage_throughput  # moto's property

    def get_throughput(self: Any) -> int | None:
        value = throughput.fget(self)
        baseline = _gp3_baseline(self)
        return value if value or baseline is None else baseline[1]

    def get_iops(self: Any) -> Any:
        value = self.__dict__.get("_world_iops")
        baseline = _gp3_baseline(self)
        return value if value or baseline is None else baseline[0]

    def set_iops(self: Any, value: Any) -> None:
        self.__dict__["_world_iops"] = value

    db_class.storage_throughput = property(get_throughput, throughput.fset)
    db_class.iops = property(get_iops, set_iops)


def pending_promotions() -> list[dict[str, Any]]:
    with STATE.lock:
        now = time.monotonic()
        return [
            {"region": region, "db_instance_identifier": db_id, "seconds_left": round(max(0.0, t - now), 3)}
            for (_, region, db_id), t in sorted(STATE.promotions.items())
        ]


# --- CloudWatch ReplicaLag ---------------------------------------------------


def _cloudwatch(region: str) -> Any:
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[DEFAULT_ACCOUNT_ID][region]


def _is_replica_lag(datum: Any, replica: str) -> bool:
    return (
        datum.namespace == "AWS/RDS"
        and datum.name == "ReplicaLag"
        and any(d.name == "DBInstanceIdentifier" and d.value == replica for d in datum.dimensions)
    )


def _publish_lag(region: str, replica: str, seconds: float) -> None:
    _cloudwatch(region).put_metric_data(
        "AWS/RDS",
        [
            {
                "MetricName": "ReplicaLag",
                "Value": seconds,
                "Unit": "Seconds",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": replica}],
            }
        ],
    )


def set_lag(replica: str, seconds: float | None, region: str = STANDBY_REGION) -> None:
    """Make ``replica``'s ReplicaLag exactly ``seconds`` from now on; None: no datapoints at all."""
    with STATE.lock:
        cw = _cloudwatch(region)
        # Drop earlier datapoints so a statistic over the last minutes sees only the new value.
        cw.metric_data = [d for d in cw.metric_data if not _is_replica_lag(d, replica)]
        if seconds is None:
            STATE.lags.pop((region, replica), None)
            return
        _publish_lag(region, replica, float(seconds))
        STATE.lags[(region, replica)] = {"seconds": float(seconds), "published": time.monotonic()}


def _still_a_replica(region: str, replica: str) -> bool:
    from moto.rds.models import rds_backends

    database = rds_backends[DEFAULT_ACCOUNT_ID][region].databases.get(replica)
    # An unknown instance keeps its metric (metric-only tests); a promoted one stops.
    return database is None or bool(database.is_replica)


def refresh_lags() -> None:
    """Re-publish set lags whose last datapoint is older than lag_publish_seconds."""
    with STATE.lock:
        now = time.monotonic()
        every = float(STATE.config["lag_publish_seconds"])
        for (region, replica), entry in list(STATE.lags.items()):
            if not _still_a_replica(region, replica):
                del STATE.lags[(region, replica)]
            elif now - entry["published"] >= every:
                _publish_lag(region, replica, entry["seconds"])
                entry["published"] = now


def lags_report() -> dict[str, dict[str, float]]:
    with STATE.lock:
        report: dict[str, dict[str, float]] = {}
        for (region, replica), entry in sorted(STATE.lags.items()):
            report.setdefault(region, {})[replica] = entry["seconds"]
        return report


# --- Route 53 health checks -------------------------------------------------


def health_check_healthy(health_check: Any) -> bool:
    if health_check.disabled:  # Route 53 treats a disabled check as healthy
        return True
    config = STATE.snapshot_config()
    target = f"{health_check.fqdn or ''} {health_check.ip_address or ''}"
    failing = health_check.id in config["failing_health_checks"] or any(
        region in target for region in config["down_regions"]
    )
    return failing == bool(health_check.inverted)


def _get_health_check_status(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow

    health_check = self.backend.get_health_check(self._get_param("HealthCheckId"))
    if health_check_healthy(health_check):
        status = "Success: HTTP Status Code 200, OK"
    else:
        status = (
            "Failure: Connection timed out. The endpoint or the internet connection is down, "
            "or requests are being blocked by your firewall."
        )
    observations = [
        {"Region": region, "IPAddress": ip, "StatusReport": {"Status": status, "CheckedTime": utcnow()}}
        for region, ip in (("us-east-1", "15.177.2.1"), ("eu-west-1", "15.177.62.1"), ("ap-southeast-1", "15.177.42.1"))
    ]
    return ActionResult({"HealthCheckObservations": observations})


# --- install ---------------------------------------------------------------

_installed = False


def install() -> None:
    """Patch moto's classes (idempotent). Must run before the server handles requests."""
    global _installed
    if _installed:
        return
    from moto.rds.models import DBInstance, RDSBackend
    from moto.route53.responses import Route53

    DBInstance.status_infos = property(_status_infos)
    DBInstance.remove_replica = _remove_replica
    _patch_gp3(DBInstance)
    RDSBackend.promote_read_replica = _promote_read_replica
    RDSBackend.create_db_instance_read_replica = _create_db_instance_read_replica(
        RDSBackend.create_db_instance_read_replica
    )
    Route53.get_health_check_status = _get_health_check_status
    _installed = True


def reset() -> None:
    """Reset moto (all backends) and the realism state."""
    from moto.moto_api._internal.models import moto_api_backend

    with STATE.lock:
        moto_api_backend.reset()
        STATE.reset()
