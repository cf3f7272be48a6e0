"""Database writes and replication: what a failover keeps and what it loses.

**Writes.** ``POST /v1/<svc>/rows`` with ``{"marker": "..."}`` to a regional service (edge.py; through
the edge, to the region DNS points at) writes one row into the database that service uses in that
region: eu-west-1 ``lomash-<svc>-prod``, eu-west-2 ``lomash-<svc>-prod-replica`` (seed.py, and
``dr_services`` in inventories/local/group_vars/all/platform.yml). It answers 201
``{"region", "database", "seq"}`` only while

* the region is up (a down region does not answer at all, as for every request),
* ``GET /v1/<svc>/health`` would answer 200 (the gateway and the service have ready pods), and
* the database is writable: it exists, is ``available`` and is not a read replica;

otherwise 503 ``{"region", "error"}`` saying why (``read-only: lomash-orders-prod-replica is a read
replica``, ``order-payment-service has 0 ready pods``, ``lomash-orders-prod is deleting``, ...);
a bad body is a 400. A row is ``{"seq", "marker", "time", "written_to"}``; seq counts up per
database (a promoted database goes on from the last row it holds).

**Replication.** A read replica holds its source's rows written up to its *applied point*: while
the source's writers run, ``now - L``, L being the replica's configured lag (``set_lag``; the seed's
``lag_seconds``; a replica whose lag is unset or cleared keeps the last one set, else 0). The
applied point never goes back, and it does not move while the source's region is down (nothing
replicates out of a dead region: an ungraceful failover loses the last L seconds). A replica created
later (failback's eu-west-1 replicas of the eu-west-2 primaries) starts by the same rule: its
source's rows up to ``now - L``. When ``PromoteReadReplica`` is accepted, the replica's rows freeze
at what it held then; later writes to the old source are not in it, and writes to it once it is
standalone go on from there.

**Lag drains when the writers stop.** The writers of a source database are the service that uses
it in the source's region (``lomash-orders-prod`` in eu-west-1: order-payment-service there). When
that region is up and the service's deployment has 0 ready pods (read from the kubeconfig as edge.py
does, sampled every ``SAMPLE_SECONDS``), the writers count as stopped from the first sample that saw
it: the lag then drains linearly, ``max(0, L - stopped_for)``, and the published ``AWS/RDS
ReplicaLag`` follows (the new value replaces the older datapoints, as set_lag does), so L seconds
later the lag is 0 and the replica holds every source row. While the writers run, or the source
region is down, or there is no kubeconfig (no deployments to read), the published lag is L, as
before. If the writers come back the lag is L again; rows already applied stay.

Controls (server.py): ``GET /_world/data`` (the report, :func:`report`) and
``GET /_world/data/rows?region=R&database=D`` (:func:`rows_report`); World.rows, World.write_rows,
World.data_report in control.py. Hooked in by realism.EXTENSIONS (settle, forget, install,
refresh_lags).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

from . import realism
from .realism import STATE

REGIONS = ("eu-west-1", "eu-west-2")
SAMPLE_SECONDS = 1.0  # how often the writers (ready pods) of replicated databases are read: ~1 list a second
LACKS_SHOWN = 20  # markers of missing rows listed in the report
MAX_MARKER = 200
_ROWS_PATH = re.compile(r"/v1/([A-Za-z0-9_-]+)/rows/?")
_ARN = re.compile(r"arn:aws[a-z-]*:rds:([a-z0-9-]+):\d+:db:(.+)")


def database_for(region: str, svc: str) -> str:
    """The DB instance the service uses in the region (seed.py primary_id / replica_id)."""
    from . import seed

    return seed.primary_id(svc) if region == seed.PRIMARY else seed.replica_id(svc)


def _service_of(region: str, db_id: str) -> str | None:
    from . import edge

    return next((svc for svc in edge.SERVICE_DEPLOYMENTS if database_for(region, svc) == db_id), None)


@dataclass
class Row:
    uid: int  # world-wide: a copy (replica, promotion) keeps it, so "lacks" compares rows, not markers
    seq: int
    marker: str
    at: float  # monotonic: compared with applied points
    time: str  # wall clock, for people
    written_to: str

    def public(self) -> dict[str, Any]:
        return {"seq": self.seq, "marker": self.marker, "time": self.time, "written_to": self.written_to}


@dataclass
class Data:
    """The world's record of one DB instance's rows (one moto instance object: a re-created id starts empty)."""

    token: tuple
    rows: list[Row] = field(default_factory=list)
    applied: float | None = None  # replica: the applied point (monotonic), never going back
    frozen: dict[str, Any] | None = None  # promoted: {"source": (region, id), "time": wall clock}


_DATA: dict[tuple[str, str], Data] = {}
_STOPPED: dict[tuple[str, str], float] = {}  # source (region, id) -> monotonic since its writers stopped
_LAST_LAG: dict[tuple[str, str], float] = {}  # replica -> the last configured lag seen
_PUBLISHED: dict[tuple[str, str], tuple[float, float]] = {}  # replica -> (drained value, when) published here
_UIDS = itertools.count(1)
_TOKENS = itertools.count(1)
_TOKEN_ATTR = "_world_data_token"


# --- moto's instances ---------------------------------------------------------------------------


def _databases(region: str) -> dict[str, Any]:
    from moto.rds.models import rds_backends

    return rds_backends[DEFAULT_ACCOUNT_ID][region].databases


def _instance(region: str, db_id: str) -> Any | None:
    return _databases(region).get(db_id)


def _is_replica(database: Any) -> bool:
    return bool(getattr(database, "is_replica", False) and database.source_db_instance_identifier)


def _source_key(region: str, database: Any) -> tuple[str, str] | None:
    source = database.source_db_instance_identifier
    if not source:
        return None
    found = _ARN.fullmatch(source)
    return (found.group(1), found.group(2)) if found else (region, source)


def _data(region: str, database: Any) -> Data:
    key = (region, database.db_instance_identifier)
    token = database.__dict__.get(_TOKEN_ATTR)
    if token is None or token[:2] != key:  # new, or moto's copy.copy of its source (a new replica)
        token = (*key, next(_TOKENS))
        database.__dict__[_TOKEN_ATTR] = token
    record = _DATA.get(key)
    if record is None or record.token != token:
        record = _DATA[key] = Data(token)
    return record


def _replicas() -> list[tuple[str, Any]]:
    """(region, instance) of every replica still replicating (not frozen by a promotion)."""
    out = []
    for region in REGIONS:
        for database in list(_databases(region).values()):
            if _is_replica(database) and _data(region, database).frozen is None:
                out.append((region, database))
    return out


# --- lag and the applied point ------------------------------------------------------------------


def configured_lag(region: str, replica: str) -> float:
    entry = STATE.lags.get((region, replica))
    if entry is not None:
        _LAST_LAG[(region, replica)] = float(entry["seconds"])
    return _LAST_LAG.get((region, replica), 0.0)


def effective_lag(region: str, replica: str, source: tuple[str, str] | None, now: float) -> float:
    """L while the source's writers run (or its region is down); draining to 0 over L once they stopped."""
    lag = configured_lag(region, replica)
    since = _STOPPED.get(source) if source else None
    if since is None or source[0] in STATE.config["down_regions"]:
        return lag
    return max(0.0, lag - (now - since))


def _applied(region: str, database: Any, now: float) -> float:
    """The replica's applied point now (moved on, unless its source's region is down)."""
    record = _data(region, database)
    source = _source_key(region, database)
    if source is not None and source[0] not in STATE.config["down_regions"]:
        point = now - effective_lag(region, database.db_instance_identifier, source, now)
        record.applied = point if record.applied is None else max(record.applied, point)
    return record.applied if record.applied is not None else float("-inf")


def _rows(region: str, db_id: str, now: float, depth: int = 0) -> list[Row]:
    """The rows the instance holds now (a replica: its source's up to its applied point)."""
    database = _instance(region, db_id)
    if database is None:
        return []
    record = _data(region, database)
    source = _source_key(region, database)
    if record.frozen is not None or not _is_replica(database) or source is None or depth > 4:
        return list(record.rows)
    point = _applied(region, database, now)
    return record.rows + [row for row in _rows(*source, now, depth + 1) if row.at <= point]


def _observe(now: float) -> None:
    """Move every replica's applied point on (so it is right when a region goes down or a lag is raised)."""
    for region, database in _replicas():
        _applied(region, database, now)


# --- writes ------------------------------------------------------------------------------------


def is_write(method: str, path: str) -> bool:
    return method == "POST" and _ROWS_PATH.fullmatch(path.split("?", 1)[0]) is not None


def write(region: str, path: str, body: bytes) -> tuple[int, dict[str, Any]] | None:
    """A regional service's answer to POST /v1/<svc>/rows: (status, JSON body), None if the region is down."""
    from . import edge

    svc = _ROWS_PATH.fullmatch(path.split("?", 1)[0]).group(1)
    health = edge.answer(region, f"/v1/{svc}/health")  # outside the lock: may read Kubernetes
    if health is None:
        return None
    if health[0] != 200:
        return (404 if health[0] == 404 else 503), {"region": region, "error": health[1].get("error", "unhealthy")}
    try:
        marker = json.loads(body or b"{}").get("marker")
    except (ValueError, AttributeError):
        marker = None
    if not isinstance(marker, str) or not 0 < len(marker) <= MAX_MARKER:
        return 400, {"region": region, "error": f'body must be {{"marker": "<1-{MAX_MARKER} characters>"}}'}
    db_id = database_for(region, svc)
    with STATE.lock:
        database = _instance(region, db_id)
        if database is None:
            return 503, {"region": region, "error": f"no database: {db_id} does not exist in {region}"}
        if _is_replica(database):
            return 503, {"region": region, "error": f"read-only: {db_id} is a read replica"}
        if database.status != "available":
            return 503, {"region": region, "error": f"{db_id} is {database.status}"}
        record = _data(region, database)
        seq = (record.rows[-1].seq if record.rows else 0) + 1
        record.rows.append(Row(next(_UIDS), seq, marker, time.monotonic(), _wall(), f"{region}/{db_id}"))
    return 201, {"region": region, "database": db_id, "seq": seq}


def _wall() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


# --- promotion: the replica freezes ----------------------------------------------------------------


def _promote_read_replica(original):
    def promote(self: Any, db_kwargs: Any) -> Any:
        database = original(self, db_kwargs)  # refuses (raises) before anything changes
        with STATE.lock:
            now = time.monotonic()
            region = self.region_name
            held = _rows(region, database.db_instance_identifier, now)
            record = _data(region, database)
            record.rows = held
            record.frozen = {"source": _source_key(region, database), "time": _wall()}
        return database

    return promote


# --- the writers: ready pods, sampled ---------------------------------------------------------------


def sample() -> None:
    """Note which replicated databases' writers are stopped (their region up, their service at 0 ready pods)."""
    from . import edge

    config = STATE.snapshot_config()
    with STATE.lock:
        sources = {s for region, database in _replicas() if (s := _source_key(region, database))}
    ready: dict[str, dict[str, int]] = {}
    if config["kubeconfig"]:
        for region in sorted({r for r, _ in sources if r in REGIONS and r not in config["down_regions"]}):
            try:
                ready[region] = edge.DEPLOYMENTS.ready(config["kubeconfig"], region)
            except RuntimeError:  # unreadable: not known to be stopped
                pass
    with STATE.lock:
        now = time.monotonic()
        _observe(now)  # applied points up to now, by the state so far
        for source in sources:
            region, db_id = source
            svc = _service_of(region, db_id)
            pods = ready.get(region) or {}
            deployment = edge.SERVICE_DEPLOYMENTS.get(svc) if svc else None
            stopped = (bool(STATE.config["kubeconfig"]) and region not in STATE.config["down_regions"]
                       and deployment in pods and pods[deployment] < 1)
            if stopped:
                _STOPPED.setdefault(source, now)
            else:
                _STOPPED.pop(source, None)
        for source in [s for s in _STOPPED if s not in sources]:
            del _STOPPED[source]


def _sampler() -> None:
    while True:
        time.sleep(SAMPLE_SECONDS)
        try:
            sample()
        except Exception:  # noqa: BLE001 - a moto reset mid-sample: next round
            pass


# --- CloudWatch: the drained lag is what is published -----------------------------------------------


def refresh_lags() -> None:
    """After realism.refresh_lags (under STATE.lock): publish the draining value instead of L."""
    now = time.monotonic()
    for key in [k for k in _PUBLISHED if k not in STATE.lags]:
        del _PUBLISHED[key]
    for (region, replica), entry in list(STATE.lags.items()):
        database = _instance(region, replica) if region in REGIONS else None
        source = _source_key(region, database) if database is not None and _is_replica(database) else None
        value = round(effective_lag(region, replica, source, now), 3)
        mine = _PUBLISHED.get((region, replica))
        configured = round(float(entry["seconds"]), 3)
        if mine is None and value == configured:
            continue  # not draining: realism publishes L
        if mine is not None and mine == (value, entry["published"]):
            continue  # published already, and realism has not re-published L since
        cw = realism._cloudwatch(region)
        cw.metric_data = [d for d in cw.metric_data if not realism._is_replica_lag(d, replica)]
        realism._publish_lag(region, replica, value)
        entry["published"] = now
        if value == configured:
            _PUBLISHED.pop((region, replica), None)
        else:
            _PUBLISHED[(region, replica)] = (value, now)


# --- reports -----------------------------------------------------------------------------------------


def _role(database: Any, record: Data) -> str:
    if record.frozen is not None:
        return "promoting" if _is_replica(database) else "promoted"
    return "replica" if _is_replica(database) else "primary"


def _describe(region: str, database: Any, now: float) -> dict[str, Any]:
    db_id = database.db_instance_identifier
    record = _data(region, database)
    held = _rows(region, db_id, now)
    role = _role(database, record)
    source = record.frozen["source"] if record.frozen else _source_key(region, database)
    out: dict[str, Any] = {
        "role": role, "status": database.status, "rows": len(held), "last_seq": held[-1].seq if held else None,
        "writable": role in ("primary", "promoted") and database.status == "available",
        "source": f"{source[0]}/{source[1]}" if source else None, "lacks": None, "lacks_markers": [],
        "lag_seconds": None, "configured_lag_seconds": None, "writers_stopped_for": None,
        "promoted_at": record.frozen["time"] if record.frozen else None,
    }
    if source is not None and source[0] in REGIONS and _instance(*source) is not None:
        have = {row.uid for row in held}
        missing = [row for row in _rows(*source, now) if row.uid not in have]
        out["lacks"], out["lacks_markers"] = len(missing), [row.marker for row in missing[:LACKS_SHOWN]]
    if role == "replica" and source is not None:
        out["lag_seconds"] = round(effective_lag(region, db_id, source, now), 3)
        out["configured_lag_seconds"] = configured_lag(region, db_id)
        since = _STOPPED.get(source)
        out["writers_stopped_for"] = None if since is None else round(now - since, 3)
    return out


def report() -> dict[str, dict[str, Any]]:
    """{region: {db id: {"role", "status", "rows", "last_seq", "writable", "source", "lacks",
    "lacks_markers", "lag_seconds", "configured_lag_seconds", "writers_stopped_for", "promoted_at"}}}"""
    with STATE.lock:
        now = time.monotonic()
        return {region: {db_id: _describe(region, database, now)
                         for db_id, database in sorted(list(_databases(region).items()))}
                for region in REGIONS}


def rows_report(region: str, db_id: str) -> dict[str, Any]:
    if region not in REGIONS:
        raise realism.WorldError(f"region must be one of {list(REGIONS)}")
    with STATE.lock:
        database = _instance(region, db_id)
        if database is None:
            raise realism.WorldError(f"no DB instance {db_id!r} in {region}")
        held = _rows(region, db_id, time.monotonic())
        return {"region": region, "database": db_id, "rows": [row.public() for row in held],
                "last_seq": held[-1].seq if held else None}


def control(method: str, route: str, query: dict[str, str]) -> Any:
    """The /_world/data endpoints (server.py); None: no such endpoint."""
    if (method, route) == ("GET", "/_world/data"):
        return report()
    if (method, route) == ("GET", "/_world/data/rows"):
        return rows_report(query["region"], query["database"])
    return None


# --- realism.EXTENSIONS hooks ---------------------------------------------------------------------


def settle() -> None:
    _observe(time.monotonic())


def forget() -> None:
    with STATE.lock:
        _DATA.clear()
        _STOPPED.clear()
        _LAST_LAG.clear()
        _PUBLISHED.clear()


def install() -> None:
    from moto.rds.models import RDSBackend

    RDSBackend.promote_read_replica = _promote_read_replica(RDSBackend.promote_read_replica)
    threading.Thread(target=_sampler, daemon=True, name="world-data-sampler").start()
