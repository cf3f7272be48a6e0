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
* Route 53 changes propagate: ``ChangeResourceRecordSets`` answers ``PENDING`` with a
  unique change id, ``GetChange`` answers ``PENDING`` until ``dns_propagation_seconds``
  after the change was submitted, then ``INSYNC`` (moto: ``INSYNC`` at once, one fixed id).
  ListResourceRecordSets shows the new records at once, as AWS does; what resolvers see
  (:func:`published_records`, used by the edge in ``edge.py``) is the zone as it was when
  its last change became ``INSYNC``.
* Route 53 ``GetHealthCheckStatus`` follows the regional edge (``edge.py``): a check whose
  target (FQDN, or IP and port) is in eu-west-1/eu-west-2 is healthy when that region is
  up and its regional service answers the ResourcePath with 200; ``Inverted`` inverts,
  ``Disabled`` is healthy, ``failing_health_checks`` forces failure; a change is reported
  once it held ``health_check_delay_seconds``. moto hard-codes "Success".
* S3 (for the copy-back after a failover): HeadObject/GetObject answer
  ``x-amz-replication-status`` for objects whose status was set (``/_world/s3/replication``; it
  belongs to the stored version, so a new PUT/copy of the key has none); SSE-KMS objects get an
  ETag that is not the MD5 of their bytes and differs per stored version (multipart: "-N" kept),
  as real S3. Latency per operation (``operation_latency_ms``, preset ``S3_LATENCY_MODEL``) and
  copy time by size (``s3_copy_bytes_per_second``) are applied in ``server.py``; ``fill_s3``
  writes bulk benchmark objects straight into moto's backend.
"""

from __future__ import annotations

import bisect
import copy
import functools
import hashlib
import os
import random
import re
import secrets
import string
import threading
import time
import urllib.parse
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

DEFAULT_CONFIG: dict[str, Any] = {
    # PromoteReadReplica: seconds an instance stays "modifying" before it is standalone.
    "promotion_seconds": 0.0,
    # ... plus or minus up to this much, per instance and deterministic (from a hash of its id):
    # promotion_seconds 240 with 60 gives each replica its own time in 180..300 s.
    "promotion_seconds_spread": 0.0,
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
    # Faults at a rate (issue 11): {"<selector>": {"rate": 0.2, "kinds": [...], "region": str,
    # "slow_ms": 1500}}, the selector "*", a service ("rds") or an operation ("rds:PromoteReadReplica"),
    # the most specific one applying. kinds (default all): "throttle" (400 Throttling /
    # RequestLimitExceeded, Route 53 also PriorRequestNotComplete), "500" (InternalFailure), "503"
    # (ServiceUnavailable), "reset" (the connection closed without an answer), "slow" (slow_ms more,
    # then answered). Each fault is decided before moto sees the call, so a failed call changed nothing;
    # except "lost" (asked for by name only, never in the default kinds): the call is served, then its
    # answer is lost (the connection reset), as a fault {"lost": true} in "faults" does to its next calls.
    # Seeded and deterministic: the n-th call of an operation draws from hash(fault_seed, operation, n).
    "fault_rates": {},
    "fault_seed": 0,
    # Route 53 health check ids that report failure whatever the regions do.
    "failing_health_checks": [],
    # How often (seconds) a set ReplicaLag value is re-published as a fresh datapoint.
    "lag_publish_seconds": 60.0,
    # Route 53: seconds a change stays PENDING (GetChange) and invisible to the edge's resolver.
    "dns_propagation_seconds": 0.0,
    # Route 53 health checks: a status change is reported once it has held this long.
    "health_check_delay_seconds": 0.0,
    # The edge's resolver caches an answer this long; null: the record's TTL (alias: 60).
    "resolver_ttl_seconds": None,
    # Path of the kubeconfig of the two control planes (contexts lomash-wood-<region>); the
    # regional services read their deployments there. null: every service counts as ready.
    # Kept across POST /_world/reset: it is the wiring of the environment, not test state.
    "kubeconfig": None,
    # Per-operation latency, {"s3:HeadObject": 15}: used instead of latency_ms for those calls
    # (names as awsreq.identify gives them); a service name ("rds": 40) covers that service's other
    # calls. S3_LATENCY_MODEL below is a preset.
    "operation_latency_ms": {},
    # CopyObject / UploadPartCopy also take bytes copied / this rate (null: copies are instant).
    "s3_copy_bytes_per_second": None,
    # ... and this much more when the source bucket is in another region than the copy's (the
    # destination's S3 reads the source across regions: a round trip and a first byte there).
    "s3_cross_region_copy_ms": 0,
}

_CONFIG_TYPES = {
    "promotion_seconds": (int, float),
    "promotion_seconds_spread": (int, float),
    "latency_ms": (int, float),
    "down_regions": list,
    "outage_mode": str,
    "outage_timeout_seconds": (int, float),
    "faults": dict,
    "fault_rates": dict,
    "fault_seed": int,
    "failing_health_checks": list,
    "lag_publish_seconds": (int, float),
    "dns_propagation_seconds": (int, float),
    "health_check_delay_seconds": (int, float),
    "resolver_ttl_seconds": (int, float, type(None)),
    "kubeconfig": (str, type(None)),
    "operation_latency_ms": dict,
    "s3_copy_bytes_per_second": (int, float, type(None)),
    "s3_cross_region_copy_ms": (int, float),
}

# Same-region S3 as a client in the region sees it (first-byte latencies of small requests; a
# listing page is 1,000 keys), server-side copies at ~100 MB/s, and 50 ms more for a copy whose
# source is in another region (eu-west-1 <-> eu-west-2: a ~10 ms round trip and the source's first byte). Switch it on with
# World.configure(**S3_LATENCY_MODEL); World.configure(operation_latency_ms=None,
# s3_copy_bytes_per_second=None) switches it off.
S3_LATENCY_MODEL: dict[str, Any] = {
    "operation_latency_ms": {
        "s3:ListObjectsV2": 100, "s3:ListObjects": 100, "s3:ListObjectVersions": 100,
        "s3:HeadObject": 15, "s3:GetObject": 20, "s3:GetObjectTagging": 15, "s3:PutObjectTagging": 30,
        "s3:PutObject": 30, "s3:CopyObject": 40, "s3:UploadPartCopy": 40, "s3:UploadPart": 30,
        "s3:CreateMultipartUpload": 30, "s3:CompleteMultipartUpload": 30, "s3:AbortMultipartUpload": 20,
        "s3:DeleteObject": 20, "s3:DeleteObjects": 40,
        "s3:GetBucketReplication": 30, "s3:PutBucketReplication": 30,
        "s3:HeadBucket": 15, "s3:GetBucketLocation": 15, "s3:GetBucketVersioning": 15,
    },
    "s3_copy_bytes_per_second": 100_000_000,
    "s3_cross_region_copy_ms": 50,
}

STANDBY_REGION = "eu-west-2"


# Named latency models: the seed's real step times, in seconds, as a failover against production
# waits on them. A run picks one by name with a time factor that scales the waits (not the per-call
# latencies): latency_model("seed", 1 / 60) makes a 4 min promotion 4 s. pod_start_delay is the
# node simulator's (tests/k8s, cluster.set_knobs), not a world key; World.use_model sets both.
LATENCY_MODELS: dict[str, dict[str, Any]] = {
    "seed": {
        "scaled": {
            "promotion_seconds": 240,            # a cross-region replica's promotion: 3-5 min ...
            "promotion_seconds_spread": 60,      # ... each replica its own, deterministic
            "rds_modify_seconds": 600,           # db.t3.medium -> db.r6g.large, Multi-AZ: ~10 min
            "pod_start_delay": 60,               # a pod scheduled to Ready (node, image, probes): ~1 min
            "dns_propagation_seconds": 60,       # Route 53 PENDING -> INSYNC
            "resolver_ttl_seconds": 60,          # the records' TTL, as resolvers cache them
            "health_check_delay_seconds": 30,    # health check interval 10 s x failure threshold 3
        },
        "unscaled": dict(S3_LATENCY_MODEL, latency_ms=30),  # per call; S3 copies at 100 MB/s
    },
}


def latency_model(name: str = "seed", time_factor: float = 1 / 60) -> tuple[dict[str, Any], float]:
    """(world config patch, node simulator pod start delay) of a named model at a time factor."""
    if name not in LATENCY_MODELS:
        raise ConfigError(f"unknown latency model {name!r}; known: {sorted(LATENCY_MODELS)}")
    if not time_factor > 0:
        raise ConfigError("time_factor must be > 0")
    model = LATENCY_MODELS[name]
    scaled = {key: round(value * time_factor, 3) for key, value in model["scaled"].items()}
    pod_start_delay = scaled.pop("pod_start_delay")
    return dict(copy.deepcopy(model["unscaled"]), **scaled), pod_start_delay


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
            kubeconfig = getattr(self, "config", {}).get("kubeconfig")
            self.config: dict[str, Any] = copy.deepcopy(DEFAULT_CONFIG)
            self.config["kubeconfig"] = kubeconfig
            # (account, region, db id) -> monotonic deadline of the promotion
            self.promotions: dict[tuple[str, str, str], float] = {}
            # (region, replica id) -> {"seconds": float, "published": monotonic}
            self.lags: dict[tuple[str, str], dict[str, float]] = {}
            self.forget_dns()
            self.reset_calls()

    def forget_resources(self) -> None:
        """Drop state tied to moto resources (after a bare POST /moto-api/reset)."""
        with self.lock:
            self.promotions.clear()
            self.lags.clear()
            self.forget_dns()
        if _installed:
            _extension_hook("forget")

    def forget_dns(self) -> None:
        with self.lock:
            # change id -> {"zone", "deadline" (monotonic), "submitted_at"}
            self.dns_changes: dict[str, dict[str, Any]] = {}
            # zone id -> changes not yet INSYNC, oldest first: {"change_id", "deadline", "records"}
            self.dns_pending: dict[str, list[dict[str, Any]]] = {}
            # zone id -> the records resolvers see, while the zone has pending changes
            self.dns_published: dict[str, list[dict[str, Any]]] = {}
            # health check id -> {"reported": bool, "candidate": bool | None, "since": monotonic}
            self.health: dict[str, dict[str, Any]] = {}

    def reset_calls(self) -> None:
        with self.lock:
            self.calls: dict[str, int] = {}
            self.calls_by_region: dict[str, dict[str, int]] = {}
            self.errors: dict[str, int] = {}
            # operation -> {kind: n}: the rate-based faults injected (slow ones included)
            self.injected: dict[str, dict[str, int]] = {}
            self.fault_draws: dict[str, int] = {}
            # operation -> {"count", "max_seconds", "total_seconds"}: calls to a region down in
            # "timeout" mode, and how long their clients waited before they gave up
            self.holds: dict[str, dict[str, float]] = {}

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
            for name, spec in new["fault_rates"].items():
                _check_fault_rate(name, spec)
            if "fault_rates" in patch or "fault_seed" in patch:
                self.fault_draws = {}  # a new rate or seed starts its sequence again
            for name, millis in new["operation_latency_ms"].items():
                if not name or not isinstance(millis, (int, float)) or isinstance(millis, bool) or millis < 0:
                    raise ConfigError(f"operation_latency_ms {name!r} must be 'service:Operation' or 'service' -> ms >= 0")
            rate = new["s3_copy_bytes_per_second"]
            if rate is not None and rate <= 0:
                raise ConfigError("s3_copy_bytes_per_second must be > 0 (null: copies take no time)")
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
                "injected": {k: dict(sorted(v.items())) for k, v in sorted(self.injected.items())},
                "held": {k: dict(v) for k, v in sorted(self.holds.items())},
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

    def record_hold(self, name: str, seconds: float) -> None:
        with self.lock:
            held = self.holds.setdefault(name, {"count": 0, "max_seconds": 0.0, "total_seconds": 0.0})
            held["count"] += 1
            held["max_seconds"] = round(max(held["max_seconds"], seconds), 3)
            held["total_seconds"] = round(held["total_seconds"] + seconds, 3)

    def draw_fault(self, name: str, region: str) -> dict[str, Any] | None:
        """The rate-based fault for this call, or None: {"kind", "status", "code", "slow_ms"}."""
        with self.lock:
            rates = self.config["fault_rates"]
            spec = next((rates[key] for key in (name, name.partition(":")[0], "*")
                         if rates.get(key) and rates[key].get("region", region) == region), None)
            if spec is None:
                return None
            n = self.fault_draws.get(name, 0)
            self.fault_draws[name] = n + 1
            rng = random.Random(f"{self.config['fault_seed']}:{name}:{n}")
            if rng.random() >= float(spec.get("rate", 0)):
                return None
            kinds = list(spec.get("kinds") or FAULT_KINDS)
            kind = kinds[rng.randrange(len(kinds))]
            fault: dict[str, Any] = {"kind": kind, "slow_ms": float(spec.get("slow_ms", 1500))}
            if kind == "throttle":
                codes = ["Throttling", "RequestLimitExceeded"]
                if name.startswith("route53:"):
                    codes.append("PriorRequestNotComplete")
                fault.update(status=400, code=codes[rng.randrange(len(codes))])
            elif kind == "500":
                fault.update(status=500, code="InternalFailure")
            elif kind == "503":
                fault.update(status=503, code="ServiceUnavailable")
            if kind != "lost":  # counted when served (count_injected)
                per_op = self.injected.setdefault(name, {})
                per_op[kind] = per_op.get(kind, 0) + 1
            return fault

    def count_injected(self, name: str, kind: str) -> None:
        with self.lock:
            per_op = self.injected.setdefault(name, {})
            per_op[kind] = per_op.get(kind, 0) + 1


FAULT_KINDS = ("throttle", "500", "503", "reset", "slow")  # the default kinds
LOST = "lost"  # only when named: a served call whose answer is lost


def _check_fault_rate(name: str, spec: Any) -> None:
    if not isinstance(spec, dict):
        raise ConfigError(f"fault_rates {name!r} must be an object")
    rate = spec.get("rate", 0)
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 1:
        raise ConfigError(f"fault_rates {name!r}: rate must be a number in [0, 1], got {rate!r}")
    bad = [k for k in spec.get("kinds") or [] if k not in FAULT_KINDS + (LOST,)]
    if bad or not isinstance(spec.get("kinds") or [], list):
        raise ConfigError(f"fault_rates {name!r}: unknown kinds {bad!r} (known: {', '.join(FAULT_KINDS + (LOST,))})")
    unknown = set(spec) - {"rate", "kinds", "region", "slow_ms"}
    if unknown:
        raise ConfigError(f"fault_rates {name!r}: unknown keys {sorted(unknown)}")


STATE = WorldState()


# --- RDS -------------------------------------------------------------------

_REPLICATING = [{"StatusType": "read replication", "Normal": True, "Status": "replicating"}]


def _status_infos(self: Any) -> list[dict[str, Any]] | None:
    # None (not []) once standalone: the ReadReplicaPromoted waiter tests
    # length(DBInstances[].StatusInfos) == 0, which an empty list would defeat.
    if getattr(self, "is_replica", False) and self.source_db_instance_identifier:
        return copy.deepcopy(_REPLICATING)
    return None


def promotion_seconds(db_id: str, config: dict[str, Any] | None = None) -> float:
    """How long promoting `db_id` takes: promotion_seconds +/- promotion_seconds_spread, the offset
    fixed per instance (a hash of its id), so the same world and model give the same times."""
    config = config if config is not None else STATE.config
    spread = float(config.get("promotion_seconds_spread") or 0)
    unit = int(hashlib.sha256(db_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF  # 0..1
    return max(0.0, float(config["promotion_seconds"]) + spread * (2 * unit - 1))


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
        STATE.promotions[key] = time.monotonic() + promotion_seconds(database.db_instance_identifier)
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
    """Finish every promotion whose time is up, publish propagated DNS changes. Called at the start of each request."""
    with STATE.lock:
        settle_dns()
        now = time.monotonic()
        for key in [k for k, deadline in STATE.promotions.items() if deadline <= now]:
            del STATE.promotions[key]
            _complete_promotion(*key)
        if _installed:
            _extension_hook("settle")


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
        if _installed:
            _extension_hook("refresh_lags")  # data.py: a lag draining once writes stopped


def lags_report() -> dict[str, dict[str, float]]:
    with STATE.lock:
        report: dict[str, dict[str, float]] = {}
        for (region, replica), entry in sorted(STATE.lags.items()):
            report.setdefault(region, {})[replica] = entry["seconds"]
        return report


# --- Route 53 change propagation ----------------------------------------------


def _record_dict(rrset: Any) -> dict[str, Any]:
    """A moto RecordSet as ListResourceRecordSets shows it (deep copy: later changes do not leak in)."""
    out: dict[str, Any] = {"Name": rrset.name, "Type": rrset.type}
    for key, attr in (("SetIdentifier", "set_identifier"), ("Weight", "weight"), ("Failover", "failover"),
                      ("Region", "region"), ("TTL", "ttl"), ("HealthCheckId", "health_check_id"),
                      ("AliasTarget", "alias_target")):
        value = getattr(rrset, attr, None)
        if value is not None:
            out[key] = copy.deepcopy(value)
    if rrset.records:
        out["ResourceRecords"] = [r["Value"] if isinstance(r, dict) else r for r in rrset.records]
    return out


def _zone_records(zone: Any) -> list[dict[str, Any]]:
    return [_record_dict(r) for r in zone.rrsets]


def _new_change_id() -> str:
    # Route 53 change ids: "C" and 13 or more upper-case letters and digits.
    return "C" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(13))


def settle_dns() -> None:
    """Publish the changes whose propagation time is up (oldest first)."""
    with STATE.lock:
        now = time.monotonic()
        for zone_id, pending in list(STATE.dns_pending.items()):
            while pending and pending[0]["deadline"] <= now:
                STATE.dns_published[zone_id] = pending.pop(0)["records"]
            if not pending:  # all INSYNC: resolvers see the live zone again
                del STATE.dns_pending[zone_id]
                STATE.dns_published.pop(zone_id, None)


def published_records(zone: Any) -> list[dict[str, Any]]:
    """The zone's record sets as resolvers see them: as of its last change that is INSYNC."""
    with STATE.lock:
        settle_dns()
        published = STATE.dns_published.get(zone.resource_id)
        return copy.deepcopy(published) if published is not None else _zone_records(zone)


def _change_resource_record_sets(original):
    def change(self: Any) -> Any:
        from moto.core.responses import ActionResult
        from moto.core.utils import utcnow

        zone = self.backend.get_hosted_zone(self._get_param("HostedZoneId"))  # NoSuchHostedZone
        with STATE.lock:
            settle_dns()
            before = _zone_records(zone)
            original(self)  # validates and applies; a bad batch raises before anything is recorded
            pending = STATE.dns_pending.setdefault(zone.resource_id, [])
            if not pending:
                STATE.dns_published[zone.resource_id] = before
            # Changes of a zone become INSYNC in the order they were submitted.
            deadline = time.monotonic() + float(STATE.config["dns_propagation_seconds"])
            if pending:
                deadline = max(deadline, pending[-1]["deadline"])
            change_id = _new_change_id()
            pending.append({"change_id": change_id, "deadline": deadline, "records": _zone_records(zone)})
            submitted = utcnow()
            STATE.dns_changes[change_id] = {"zone": zone.resource_id, "deadline": deadline, "submitted_at": submitted}
        info = {"Id": f"/change/{change_id}", "Status": "PENDING", "SubmittedAt": submitted}
        comment = self._get_param("ChangeBatch.Comment")
        if comment:
            info["Comment"] = comment
        return ActionResult({"ChangeInfo": info})

    return change


def _get_change(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow

    change_id = self._get_param("Id").split("/")[-1]
    with STATE.lock:
        settle_dns()
        change = STATE.dns_changes.get(change_id)
    if change is None:  # ids from moto's other calls (CreateHostedZone...): INSYNC, as moto answers
        return ActionResult({"ChangeInfo": {"Id": f"/change/{change_id}", "Status": "INSYNC", "SubmittedAt": utcnow()}})
    status = "PENDING" if time.monotonic() < change["deadline"] else "INSYNC"
    return ActionResult({"ChangeInfo": {"Id": f"/change/{change_id}", "Status": status,
                                        "SubmittedAt": change["submitted_at"]}})


def pending_dns_changes() -> list[dict[str, Any]]:
    with STATE.lock:
        settle_dns()
        now = time.monotonic()
        return [{"zone_id": zone_id, "change_id": c["change_id"], "seconds_left": round(max(0.0, c["deadline"] - now), 3)}
                for zone_id, pending in sorted(STATE.dns_pending.items()) for c in pending]


# --- Route 53 health checks -------------------------------------------------

_REGION_IN_NAME = re.compile(r"(?<![a-z0-9])([a-z]{2}(?:-gov)?-[a-z]+-\d)(?![0-9])")
_HTTP_TYPES = ("HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH")


def region_in_name(name: str) -> str | None:
    """The AWS region a DNS name names (moto ALB names: <name>-1.<region>.elb.amazonaws.com)."""
    found = _REGION_IN_NAME.search((name or "").lower())
    return found.group(1) if found else None


def health_check_region(health_check: Any) -> str | None:
    """The region a check targets: from its FQDN, or its IP and port (a regional service's)."""
    from . import edge

    if health_check.ip_address:
        region = edge.region_of_address(health_check.ip_address, health_check.port)
        if region:
            return region
    return region_in_name(health_check.fqdn or "") or region_in_name(health_check.ip_address or "")


def _health_now(health_check: Any, config: dict[str, Any], depth: int = 0) -> bool:
    """Healthy right now (no detection delay). May ask a regional service (and Kubernetes)."""
    from . import edge

    if health_check.id in config["failing_health_checks"]:
        return False  # forced, whatever Inverted/Disabled say
    if health_check.disabled:  # Route 53 treats a disabled check as healthy
        return True
    if (health_check.type_ or "").upper() == "CALCULATED":
        from moto.route53.models import route53_backends

        checks = route53_backends[DEFAULT_ACCOUNT_ID]["aws"].health_checks
        children = [checks[c] for c in (health_check.children or []) if c in checks]
        healthy = sum(depth < 3 and _health_now(c, config, depth + 1) for c in children)
        ok = healthy >= int(health_check.health_threshold or len(children))
    else:
        region = health_check_region(health_check)
        if region is None:  # no region to follow: only a down region named in the target fails it
            target = f"{health_check.fqdn or ''} {health_check.ip_address or ''}"
            ok = not any(r in target for r in config["down_regions"])
        elif region in config["down_regions"]:
            ok = False
        elif region in edge.REGIONS and (health_check.type_ or "HTTP").upper() in _HTTP_TYPES:
            answer = edge.answer(region, health_check.resource_path or "/")
            ok = answer is not None and answer[0] == 200
        else:  # TCP checks, or regions with no regional service: the region being up is enough
            ok = True
    return ok != bool(health_check.inverted)


def health_check_healthy(health_check: Any) -> bool:
    """What Route 53 reports: the current status once it has held health_check_delay_seconds."""
    config = STATE.snapshot_config()
    now_ok = _health_now(health_check, config)  # outside the lock: may wait on Kubernetes
    delay = float(config["health_check_delay_seconds"])
    with STATE.lock:
        now = time.monotonic()
        entry = STATE.health.get(health_check.id)
        if entry is None or delay <= 0:
            STATE.health[health_check.id] = {"reported": now_ok, "candidate": None, "since": now}
            return now_ok
        if now_ok == entry["reported"]:
            entry["candidate"] = None
        else:
            if entry["candidate"] != now_ok:
                entry["candidate"], entry["since"] = now_ok, now
            if now - entry["since"] >= delay:
                entry["reported"], entry["candidate"] = now_ok, None
        return entry["reported"]


def sample_health_checks() -> None:
    """Evaluate every health check now (the edge's monitor thread: changes are timed from here)."""
    from moto.route53.models import route53_backends

    for health_check in list(route53_backends[DEFAULT_ACCOUNT_ID]["aws"].health_checks.values()):
        health_check_healthy(health_check)


def health_report() -> dict[str, dict[str, Any]]:
    with STATE.lock:
        now = time.monotonic()
        return {hc_id: {"healthy": e["reported"],
                        "changing_to": e["candidate"],
                        "changing_for": round(now - e["since"], 3) if e["candidate"] is not None else None}
                for hc_id, e in sorted(STATE.health.items())}


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


# --- Route 53 change batches: DELETE + CREATE of the same name in one batch ------------------
# moto checks a CREATE against the records as they were before the batch (so a batch that
# deletes a record set and creates it anew is refused once the same CREATE was ever sent), and
# deletes a record set by its SetIdentifier alone, whatever its name. Route 53 applies a batch as
# one transaction: the DELETEs here go first, matched by name, type and set identifier, and a
# DELETE of a record set that is not there refuses the whole batch, as on AWS.


def _apply_deletes_first(original):
    def change_resource_record_sets(self: Any, zoneid: str, change_list: list[dict[str, Any]]) -> None:
        from moto.route53.exceptions import Route53ClientError

        zone = self.get_hosted_zone(zoneid)
        deletes = [c for c in change_list if c["Action"] == "DELETE"]

        def key(record_set: dict[str, Any]) -> tuple:
            return (record_set["Name"].rstrip(".").lower() + ".", record_set["Type"], record_set.get("SetIdentifier"))

        present = {(r.name.rstrip(".").lower() + ".", r.type, r.set_identifier) for r in zone.rrsets}
        for change in deletes:
            name, type_, set_id = key(change["ResourceRecordSet"])
            if (name, type_, set_id) not in present:
                raise Route53ClientError(
                    "InvalidChangeBatch",
                    f"Tried to delete resource record set [name='{name}', type='{type_}'"
                    + (f", set-identifier='{set_id}'" if set_id else "") + "] but it was not found")
        gone = {key(c["ResourceRecordSet"]) for c in deletes}
        kept = [r for r in zone.rrsets if (r.name.rstrip(".").lower() + ".", r.type, r.set_identifier) not in gone]
        rest = [c for c in change_list if c["Action"] != "DELETE"]
        saved = zone.rrsets
        zone.rrsets = kept
        try:
            original(self, zoneid, rest)
        except Exception:
            zone.rrsets = saved  # all or nothing
            raise

    return change_resource_record_sets


# --- S3: replication status, SSE-KMS ETags, copy sizes, bulk fill -------------------------


class WorldError(ValueError):
    """A control request naming something the world does not hold (answered 400)."""


REPLICATION_STATUSES = ("PENDING", "COMPLETED", "FAILED", "REPLICA")
# Kept on moto's FakeKey (one stored version): a new PUT/copy is a new FakeKey with no status,
# and a moto reset drops the objects and their statuses with them.
_STATUS_ATTR = "_world_replication_status"
_KMS_ETAG_ATTR = "_world_kms_etag"
# fill_s3 refuses to hold more than this in memory (estimated from the sizes asked for).
FILL_MAX_BYTES = 2 * 1024 ** 3


def _s3() -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"]


def _bucket(name: str) -> Any:
    bucket = _s3().buckets.get(name)
    if bucket is None:
        raise WorldError(f"no such bucket: {name!r}")
    return bucket


def _current_object(bucket: Any, key: str) -> Any:
    """The key's current version (moto FakeKey), or None: missing, or a delete marker."""
    from moto.s3.models import FakeKey

    found = bucket.keys.get(key)
    return found if isinstance(found, FakeKey) else None


def set_replication_statuses(bucket_name: str, statuses: dict[str, str | None]) -> dict[str, str]:
    """Set (None: clear) x-amz-replication-status of each key's current version; all or nothing."""
    bucket = _bucket(bucket_name)
    objects = {}
    for key, status in statuses.items():
        if status is not None and status not in REPLICATION_STATUSES:
            raise WorldError(f"replication status of {key!r} must be one of {REPLICATION_STATUSES} or null")
        objects[key] = _current_object(bucket, key)
        if objects[key] is None:
            raise WorldError(f"no object {key!r} in bucket {bucket_name!r}")
    for key, status in statuses.items():
        if status is None:
            objects[key].__dict__.pop(_STATUS_ATTR, None)
        else:
            objects[key].__dict__[_STATUS_ATTR] = status
    return replication_statuses(bucket_name)


def replication_statuses(bucket_name: str) -> dict[str, str]:
    """{key: status} of the current versions that have one."""
    report = {}
    for key, obj in list(_bucket(bucket_name).keys.items()):
        status = getattr(obj, "__dict__", {}).get(_STATUS_ATTR)
        if status:
            report[key] = status
    return dict(sorted(report.items()))


def _response_dict(original: property) -> property:
    def response_dict(self: Any) -> dict[str, Any]:
        headers = original.fget(self)
        status = self.__dict__.get(_STATUS_ATTR)
        if status:  # HeadObject / GetObject: boto3's ReplicationStatus
            headers["x-amz-replication-status"] = status
        return headers

    return property(response_dict)


def _etag(original: property) -> property:
    """SSE-KMS objects: an ETag that is not the MD5 of the content, new for every stored version.

    Real S3 documents that ETags of SSE-KMS objects are not an MD5 digest of the data; two
    uploads of the same bytes (a CRR replica included) get different ETags. Multipart ones keep
    their "-N" suffix. Plain and SSE-S3 (AES256) objects keep moto's MD5 / md5-of-part-md5s-N.
    """

    def etag(self: Any) -> str:
        plain = original.fget(self)
        if getattr(self, "encryption", None) != "aws:kms":
            return plain
        cached = self.__dict__.get(_KMS_ETAG_ATTR)
        if cached is None:
            digest, _, parts = plain.strip('"').partition("-")
            salted = hashlib.md5(bytes.fromhex(digest) + str(self.version_id).encode() + os.urandom(16),
                                 usedforsecurity=False).hexdigest()
            cached = f'"{salted}-{parts}"' if parts else f'"{salted}"'
            self.__dict__[_KMS_ETAG_ATTR] = cached
        return cached

    return property(etag)


def s3_copy_source_region(environ: dict[str, Any]) -> str | None:
    """The region of a CopyObject / UploadPartCopy request's source bucket (None: no such bucket)."""
    source = environ.get("HTTP_X_AMZ_COPY_SOURCE")
    if not source:
        return None
    bucket = urllib.parse.unquote(urllib.parse.urlparse(source).path).lstrip("/").partition("/")[0]
    try:
        return _s3().get_bucket(bucket).region_name
    except Exception:  # noqa: BLE001 - no such bucket: moto answers the error
        return None


def s3_copy_source_bytes(environ: dict[str, Any]) -> int:
    """Bytes a CopyObject / UploadPartCopy request copies: its range, else the source's size (0: no source)."""
    source = environ.get("HTTP_X_AMZ_COPY_SOURCE")
    if not source:
        return 0
    parsed = urllib.parse.urlparse(source)
    bucket, _, key = urllib.parse.unquote(parsed.path).lstrip("/").partition("/")
    version = urllib.parse.parse_qs(parsed.query).get("versionId", [None])[0]
    try:
        obj = _s3().get_object(bucket, key, version_id=version)
    except Exception:  # noqa: BLE001 - no such bucket/version: moto answers the error, nothing is copied
        return 0
    if obj is None:
        return 0
    found = re.fullmatch(r"\s*bytes=(\d+)-(\d+)\s*", environ.get("HTTP_X_AMZ_COPY_SOURCE_RANGE", ""))
    if found:
        start, end = int(found.group(1)), min(int(found.group(2)), obj.size - 1)
        return max(0, end - start + 1)
    return obj.size


def _fill_data(seed: Any, key: str, min_bytes: int, max_bytes: int, changed: bool = False) -> bytes:
    rng = random.Random(f"{seed}/{key}")
    size = rng.randint(min_bytes, max_bytes)
    if changed:  # other bytes, same size
        rng = random.Random(f"{seed}/{key}/changed")
    return rng.randbytes(size)


def _put_if_different(backend: Any, bucket: Any, key: str, data: bytes, buffer_size: int) -> bool:
    """Store ``data`` as a new version of ``key`` unless the current version holds it already.

    What moto's put_object does for a plain PUT, without its per-object settings lookup and
    notifications (a third of the time of 100,000 puts); buckets with default encryption go
    through put_object itself.
    """
    from moto.moto_api._internal import mock_random
    from moto.s3.models import FakeKey

    current = _current_object(bucket, key)
    if (current is not None and current.size == len(data) and current.encryption is None
            and current.etag == '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'):
        return False
    if bucket.encryption:
        backend.put_object(bucket.name, key, data, disable_notification=True)
        return True
    new = FakeKey(name=key, bucket_name=bucket.name, value=data, account_id=backend.account_id,
                  region_name=backend.region_name, is_versioned=bucket.is_versioned,
                  version_id=str(mock_random.uuid4()) if bucket.is_versioned else "null",
                  max_buffer_size=buffer_size)
    bucket.keys.setlist(key, (bucket.keys.getlist(key, []) if bucket.is_versioned else []) + [new])
    return True


def fill_s3(spec: dict[str, Any]) -> dict[str, Any]:
    """Bulk objects for benchmarks, straight into moto's backend (no HTTP): see README.md."""
    from moto.settings import get_s3_default_key_buffer_size

    started = time.monotonic()
    targets = spec["buckets"]
    if not isinstance(targets, list) or not 1 <= len(targets) <= 2:
        raise WorldError("buckets: [{name, region} of the source] and optionally the destination's")
    count, different = int(spec.get("count", 0)), int(spec.get("different", 0))
    prefix = str(spec.get("prefix", "bench/"))
    min_bytes, max_bytes = int(spec.get("min_bytes", 1024)), int(spec.get("max_bytes", 102400))
    seed = spec.get("seed", 1)
    if count < 0 or not 0 <= different <= count or not 0 <= min_bytes <= max_bytes:
        raise WorldError("need 0 <= different <= count and 0 <= min_bytes <= max_bytes")
    if different and len(targets) < 2:
        raise WorldError("different needs a second bucket")
    estimate = count * (min_bytes + max_bytes) // 2 * len(targets)
    if estimate > FILL_MAX_BYTES:
        raise WorldError(f"about {estimate >> 20} MiB of objects asked for (limit {FILL_MAX_BYTES >> 20} MiB): "
                         "pass smaller min_bytes/max_bytes")
    backend = _s3()
    buckets = []
    for target in targets:
        bucket = backend.buckets.get(target["name"])
        if bucket is None:
            bucket = backend.create_bucket(target["name"], target.get("region") or STANDBY_REGION)
        bucket.versioning_status = "Enabled"
        buckets.append(bucket)
    width = max(6, len(str(max(count - 1, 0))))
    keys = [f"{prefix}obj-{i:0{width}d}.bin" for i in range(count)]
    chosen = sorted(random.Random(f"fill/{seed}").sample(range(count), different))
    missing, changed = {keys[i] for i in chosen[0::2]}, {keys[i] for i in chosen[1::2]}
    written = {b.name: 0 for b in buckets}
    total = 0
    buffer_size = get_s3_default_key_buffer_size()
    for key in keys:
        data = _fill_data(seed, key, min_bytes, max_bytes)
        total += len(data)
        written[buckets[0].name] += _put_if_different(backend, buckets[0], key, data, buffer_size)
        if len(buckets) == 2 and key not in missing:
            if key in changed:
                data = _fill_data(seed, key, min_bytes, max_bytes, changed=True)
            written[buckets[1].name] += _put_if_different(backend, buckets[1], key, data, buffer_size)
    different_keys = sorted(missing | changed)
    return {
        "buckets": [b.name for b in buckets],
        "count": count,
        "bytes": total,
        "different": different_keys[:10],
        "different_count": len(different_keys),
        "missing": sorted(missing)[:10],
        "missing_count": len(missing),
        "changed": sorted(changed)[:10],
        "changed_count": len(changed),
        "written": written,
        "seconds": round(time.monotonic() - started, 3),
    }


# --- S3 listings at benchmark sizes ----------------------------------------------------------
# moto's ListObjectsV2 walks and sorts every object of the bucket for each page (0.3 s a page at
# 100,000 keys), and ListObjectVersions deep-copies every version, bytes included, for each page
# (3 s a page at 20,000). These answer the same pages from the sorted key names, stopping once
# the page is full. Also as S3: a key whose current version is a delete marker does not make a
# CommonPrefix, and versions of one key list newest first even within one millisecond.


def _sorted_names(bucket: Any, prefix: str, start: str | None = None) -> list[str]:
    names = sorted(bucket.keys.keys())  # one C-level pass: no "dict changed size" under writes
    if start:
        names = names[bisect.bisect_left(names, start):]
    if prefix:
        lo = bisect.bisect_left(names, prefix)
        hi = lo
        while hi < len(names) and names[hi].startswith(prefix):
            hi += 1
        names = names[lo:hi]
    return names


def _list_objects_v2(self: Any, bucket: Any, prefix: str | None, delimiter: str | None,
                     continuation_token: str | None, start_after: str | None, max_keys: int) -> Any:
    from moto.s3.exceptions import MethodNotAllowed
    from moto.s3.models import FakeKey, FakeTableStorageBucket

    if isinstance(bucket, FakeTableStorageBucket):
        raise MethodNotAllowed()
    prefix = prefix or ""
    after = self._pagination_tokens.get(continuation_token) if continuation_token else start_after
    names = _sorted_names(bucket, prefix)
    if after:
        names = names[bisect.bisect_right(names, after):]
    page: list[Any] = []
    folders: set[str] = set()
    for name in names:
        if len(page) > max_keys:  # one more than fits: the page is truncated
            break
        obj = bucket.keys.get(name)
        if not isinstance(obj, FakeKey):  # deleted (a delete marker is current)
            continue
        rest = name[len(prefix):]
        if delimiter and delimiter in rest:
            folder = prefix + rest.split(delimiter)[0] + delimiter
            if folder in folders or (after and folder <= after):
                continue
            folders.add(folder)
            page.append(folder)
        else:
            page.append(obj)
    return self._truncate_result(page, max_keys)


def _list_object_versions(self: Any, bucket_name: str, delimiter: str | None = None, key_marker: str | None = None,
                          max_keys: int | None = 1000, prefix: str = "", version_id_marker: str | None = None) -> Any:
    """moto's loop (pagination, CommonPrefixes, next markers), fed lazily with the wanted names' versions."""
    from moto.s3.models import FakeKey

    bucket = self.get_bucket(bucket_name)
    prefix = prefix or ""

    def all_versions():
        for name in _sorted_names(bucket, prefix, start=key_marker):
            for i, version in enumerate(reversed(list(bucket.keys.getlist(name, [])))):
                version.is_latest = i == 0  # read by the response; the newest version of the key
                yield version

    common_prefixes: set[str] = set()
    requested_versions: list[Any] = []
    delete_markers: list[Any] = []
    next_key_marker: str | None = None
    next_version_id_marker: str | None = None
    skip_versions = True
    last_item_added: Any = None
    for version in all_versions():
        name = version.name
        if skip_versions:
            if key_marker is None:
                skip_versions = False
            elif not version_id_marker:
                skip_versions = version.name < key_marker
                continue
            elif version.name == key_marker and version.version_id == version_id_marker:
                skip_versions = False
                continue
            else:
                continue
        is_common_prefix = False
        if delimiter and delimiter in name[len(prefix):]:
            end_of_delimiter = len(prefix) + name[len(prefix):].index(delimiter) + len(delimiter)
            prefix_including_delimiter = name[0:end_of_delimiter]
            if prefix_including_delimiter == key_marker:
                continue
            common_prefixes.add(prefix_including_delimiter)
            name = prefix_including_delimiter
            is_common_prefix = True
        elif last_item_added:
            name = last_item_added.name
        if max_keys is not None and len(requested_versions) + len(delete_markers) + len(common_prefixes) >= max_keys:
            next_key_marker = name
            if is_common_prefix:
                next_version_id_marker = None
            elif last_item_added is not None:
                next_version_id_marker = last_item_added.version_id
            else:
                next_version_id_marker = None
            break
        if not is_common_prefix:
            last_item_added = version
            if not isinstance(version, FakeKey):
                delete_markers.append(version)
            else:
                requested_versions.append(version)
    return requested_versions, sorted(common_prefixes), delete_markers, next_key_marker, next_version_id_marker


# --- install ---------------------------------------------------------------

_installed = False


_REPLICATION_RULE_KEYS = ("ID", "Priority", "Status", "Filter", "Prefix", "DeleteMarkerReplication", "Destination",
                          "SourceSelectionCriteria", "ExistingObjectReplication")


def _get_bucket_replication(self: Any) -> Any:
    """GetBucketReplication as stored: moto answers every rule with an empty prefix filter and
    DeleteMarkerReplication Disabled, whatever was put (so no rule ever compares equal)."""
    from moto.core.responses import ActionResult
    from moto.s3.exceptions import ReplicationConfigurationNotFoundError

    self.data["Action"] = "GetBucketReplication"
    replication = self.backend.get_bucket_replication(self.bucket_name)
    if not replication:
        raise ReplicationConfigurationNotFoundError(bucket_name=self.bucket_name)
    stored = replication["Rule"] if isinstance(replication["Rule"], list) else [replication["Rule"]]
    rules = []
    for rule in stored:
        kept = {key: rule[key] for key in _REPLICATION_RULE_KEYS if key in rule}
        kept.setdefault("DeleteMarkerReplication", {"Status": "Disabled"})
        if "Filter" not in kept and "Prefix" not in kept:
            kept["Filter"] = {"Prefix": ""}
        if isinstance(kept.get("Filter"), dict) and kept["Filter"].get("Prefix") is None and "Prefix" in kept["Filter"]:
            kept["Filter"] = {"Prefix": ""}
        rules.append(kept)
    return self.serialized(ActionResult({"ReplicationConfiguration": {"Role": replication["Role"], "Rules": rules}}))


_list_of_moto_modules = None
_S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"


def _xml_listing(result: dict[str, Any]) -> bytes:
    """ListObjectsV2's answer as S3 writes it, from the result moto built. moto's generic serializer
    takes about 0.5 s of CPU for a 1,000-key page (it parses every LastModified back with dateutil),
    which made any listing benchmark measure moto; this writes the same XML in a few milliseconds."""
    from xml.sax.saxutils import escape

    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="%s">' % _S3_XMLNS]
    for name in ("Name", "Prefix", "Delimiter", "MaxKeys", "KeyCount", "IsTruncated", "EncodingType",
                 "NextContinuationToken", "StartAfter"):
        if name in result:
            value = result[name]
            value = ("true" if value else "false") if isinstance(value, bool) else value
            out.append("<%s>%s</%s>" % (name, escape(str(value)), name))
    for item in result.get("Contents", []):
        out.append("<Contents><Key>%s</Key><LastModified>%s</LastModified><ETag>%s</ETag>" % (
            escape(item["Key"]), item["LastModified"], escape(item["ETag"], {'"': "&quot;"})))
        out.extend("<ChecksumAlgorithm>%s</ChecksumAlgorithm>" % a for a in item.get("ChecksumAlgorithm") or [])
        out.append("<Size>%d</Size><StorageClass>%s</StorageClass></Contents>" % (item["Size"], item["StorageClass"]))
    for folder in result.get("CommonPrefixes", []):
        out.append("<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>" % escape(folder["Prefix"]))
    out.append("</ListBucketResult>")
    return "".join(out).encode("utf-8")


def _xml_copy_result(result: dict[str, Any]) -> bytes:
    """CopyObject's answer as S3 writes it. Like listings, moto's serializer spent most of a copy's
    CPU on it (dateutil again), so the world, not the copying tool, bounded copy benchmarks."""
    from xml.sax.saxutils import escape

    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<CopyObjectResult xmlns="%s">' % _S3_XMLNS]
    for name, value in result.items():
        out.append("<%s>%s</%s>" % (name, escape(str(value), {'"': "&quot;"}), name))
    out.append("</CopyObjectResult>")
    return "".join(out).encode("utf-8")


def _serialized(original):
    def serialized(self: Any, action_result: Any) -> Any:
        result = getattr(action_result, "result", None)
        action = self.data.get("Action")
        if action == "ListObjectsV2" and isinstance(result, dict) and "Contents" in result:
            body = _xml_listing(result)
        elif action == "CopyObject" and isinstance(result, dict) and set(result) == {"CopyObjectResult"}:
            body = _xml_copy_result(result["CopyObjectResult"])
        else:
            return original(self, action_result)
        headers = dict(self.response_headers)
        headers["Content-Type"] = "application/xml"
        return 200, headers, body
    return serialized


# --- world code in modules of its own ---------------------------------------------------------
# Each module named here (tests/world/<name>.py) may define CONFIG (extra config keys -> default),
# CONFIG_TYPES (key -> type), install() (patch moto, once), settle() (at the start of every
# request), forget() (on reset) and refresh_lags() (after ReplicaLag is re-published). Keeps this
# file from growing with every service.
EXTENSIONS = ("rds_modify", "elasticache", "rds_replicas", "data")


def _extensions() -> list[Any]:
    import importlib

    return [importlib.import_module(f"{__package__}.{name}") for name in EXTENSIONS]


def _extension_hook(hook: str) -> None:
    for ext in _extensions():
        if hasattr(ext, hook):
            getattr(ext, hook)()


def install() -> None:
    """Patch moto's classes (idempotent). Must run before the server handles requests."""
    global _installed
    if _installed:
        return
    # moto loads its ~1,000 public AMIs (each with a snapshot and a volume) into every EC2 backend
    # it creates, i.e. per region after every reset: half the emulator's CPU while a test seeds
    # the world. Nothing here launches instances or reads images.
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    # moto's EKS checks a role ARN's partition with a new boto3 Session each time, which reads
    # botocore's endpoints file again: one session, made once, answers the same.
    import moto.eks.utils

    moto.eks.utils.Session = functools.lru_cache(maxsize=1)(moto.eks.utils.Session)
    from moto.rds.models import DBInstance, RDSBackend
    from moto.route53.models import Route53Backend
    from moto.s3.models import FakeKey, S3Backend
    from moto.route53.responses import Route53

    Route53Backend.change_resource_record_sets = _apply_deletes_first(Route53Backend.change_resource_record_sets)
    DBInstance.status_infos = property(_status_infos)
    DBInstance.remove_replica = _remove_replica
    _patch_gp3(DBInstance)
    RDSBackend.promote_read_replica = _promote_read_replica
    RDSBackend.create_db_instance_read_replica = _create_db_instance_read_replica(
        RDSBackend.create_db_instance_read_replica
    )
    Route53.get_health_check_status = _get_health_check_status
    Route53.change_resource_record_sets = _change_resource_record_sets(Route53.change_resource_record_sets)
    Route53.get_change = _get_change
    from moto.s3.responses import S3Response

    S3Response.get_bucket_replication = _get_bucket_replication
    S3Response.serialized = _serialized(S3Response.serialized)
    # moto's dispatcher lists its own package directory (about 180 stat calls) on every request to
    # match the Host header; the answer never changes, so it is read once.
    from moto import backends

    global _list_of_moto_modules
    _list_of_moto_modules = backends.list_of_moto_modules
    backends.list_of_moto_modules = functools.lru_cache(maxsize=1)(lambda: tuple(_list_of_moto_modules()))
    FakeKey.response_dict = _response_dict(FakeKey.response_dict)
    FakeKey.etag = _etag(FakeKey.etag)
    S3Backend.list_objects_v2 = _list_objects_v2
    S3Backend.list_object_versions = _list_object_versions
    for ext in _extensions():
        DEFAULT_CONFIG.update(getattr(ext, "CONFIG", {}))
        _CONFIG_TYPES.update(getattr(ext, "CONFIG_TYPES", {}))
        for key, value in getattr(ext, "CONFIG", {}).items():
            STATE.config.setdefault(key, copy.deepcopy(value))
    _extension_hook("install")
    _installed = True


def reset() -> None:
    """Reset moto (all backends) and the realism state."""
    from moto.moto_api._internal.models import moto_api_backend

    with STATE.lock:
        moto_api_backend.reset()
        STATE.reset()
        _extension_hook("forget")
