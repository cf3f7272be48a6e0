"""Client for a running world: the control API (stdlib urllib) and boto3 for AWS parts."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import boto3
from botocore.config import Config

from . import seed as _seed

REPLICA_REGION = _seed.STANDBY
_SESSION: boto3.session.Session | None = None


def _session() -> boto3.session.Session:
    global _SESSION
    if _SESSION is None:  # one session, so botocore loads each service model once
        _SESSION = boto3.session.Session()
    return _SESSION


class World:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._clients: dict[tuple[str, str, int | None], Any] = {}
        self._edge_urls: dict[str, Any] | None = None

    # --- control API ---

    def _request(self, method: str, path: str, payload: Any = None, timeout: float = 60) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(
            self.endpoint + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())

    def config(self) -> dict[str, Any]:
        return self._request("GET", "/_world/config")

    def configure(self, **patch: Any) -> dict[str, Any]:
        """Merge ``patch`` into the config (JSON merge patch; a None value restores the default).

        Keys: see README.md, e.g. promotion_seconds, down_regions, dns_propagation_seconds,
        health_check_delay_seconds, resolver_ttl_seconds, kubeconfig, operation_latency_ms,
        s3_copy_bytes_per_second. The S3 latency preset: ``configure(**realism.S3_LATENCY_MODEL)``.
        """
        return self._request("POST", "/_world/config", patch)

    def use_model(self, name: str = "seed", time_factor: float = 1 / 60, run_dir: str | None = None) -> dict[str, Any]:
        """Configure a named latency model (realism.LATENCY_MODELS) at a time factor, and the node
        simulators' pod start delay in both clusters when `run_dir` (tests/k8s) is given.
        Answers {"model", "time_factor", "config" (the patch), "pod_start_delay"}."""
        from .realism import latency_model

        patch, pod_start_delay = latency_model(name, time_factor)
        self.configure(**patch)
        if run_dir:
            from tests.k8s import cluster

            for region in ("eu-west-1", "eu-west-2"):
                cluster.set_knobs(run_dir, region, pod_start_delay=pod_start_delay)
        return {"model": name, "time_factor": time_factor, "config": patch, "pod_start_delay": pod_start_delay}

    def calls(self) -> dict[str, Any]:
        """{"total": n, "by_operation": {"rds:DescribeDBInstances": n}, "by_region": {...}, "errors": {...}}"""
        return self._request("GET", "/_world/calls")

    def reset_calls(self) -> None:
        self._request("POST", "/_world/calls/reset", {})

    def reset(self) -> None:
        """Empty moto and restore the default config (calls and lags cleared too)."""
        self._request("POST", "/_world/reset", {})

    def state(self) -> dict[str, Any]:
        return self._request("GET", "/_world/state")

    # --- the local edge (edge.py) ---

    def edge_urls(self) -> dict[str, Any]:
        """{"edge": url, "regions": {"eu-west-1": url, "eu-west-2": url}}"""
        if self._edge_urls is None:  # fixed for the world's lifetime
            self._edge_urls = self._request("GET", "/_world/edge")
        return self._edge_urls

    def edge_url(self) -> str:
        """Base URL of the edge (no trailing slash): requests to it follow api.lomashwood.com's DNS."""
        return self.edge_urls()["edge"]

    def regional_urls(self) -> dict[str, str]:
        """{region: base URL of that region's service} (GET /health, /v1/<service>/health)."""
        return dict(self.edge_urls()["regions"])

    def edge_resolve(self, name: str | None = None) -> dict[str, Any]:
        """What the edge resolves now: {"region", "target", "set_identifier", "cached", "ttl_left", ...}."""
        query = "" if name is None else "?" + urllib.parse.urlencode({"name": name})
        req = urllib.request.Request(self.edge_url() + "/_edge/resolve" + query)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:  # 502: nothing resolves; the body says why
            return json.loads(exc.read())

    def region_down(self, region: str, mode: str | None = None, timeout_seconds: float | None = None) -> None:
        down = sorted(set(self.config()["down_regions"]) | {region})
        patch: dict[str, Any] = {"down_regions": down}
        if mode is not None:
            patch["outage_mode"] = mode
        if timeout_seconds is not None:
            patch["outage_timeout_seconds"] = timeout_seconds
        self.configure(**patch)

    def region_up(self, region: str) -> None:
        self.configure(down_regions=[r for r in self.config()["down_regions"] if r != region])

    def fault(self, operation: str, code: str = "Throttling", status: int = 400, count: int | None = 1,
              message: str | None = None, region: str | None = None, lost: bool = False) -> None:
        """Make the next ``count`` calls of ``operation`` ("service:Operation") fail (count None: all);
        lost=True: serve them, then lose their answers (the connection reset; the client tries again)."""
        # Merge patch: the None values delete keys left from an earlier fault of the same name.
        spec = {"code": code, "status": status, "count": -1 if count is None else count,
                "message": message, "region": region, "lost": True if lost else None}
        self.configure(faults={operation: spec})

    def clear_faults(self) -> None:
        self._request("POST", "/_world/config", {"faults": None, "fault_rates": None})

    def fault_rate(self, rate: float, selector: str = "*", kinds: list[str] | None = None, seed: int | None = None,
                   region: str | None = None, slow_ms: float | None = None) -> None:
        """Make ``rate`` of the calls matching ``selector`` ("*", "rds", "rds:PromoteReadReplica") fail or
        slow down, seeded (README: fault_rates); rate 0 removes the selector's entry."""
        spec = None if not rate else {"rate": rate, "kinds": kinds, "region": region, "slow_ms": slow_ms}
        patch: dict[str, Any] = {"fault_rates": {selector: spec}}
        if seed is not None:
            patch["fault_seed"] = seed
        self.configure(**patch)

    def set_lag(self, replica: str, seconds: float, region: str = REPLICA_REGION) -> None:
        """From now on ``replica``'s only ReplicaLag datapoints have this value (re-published every minute)."""
        self._request("POST", "/_world/lag", {"region": region, "replica": replica, "seconds": seconds})

    def clear_lag(self, replica: str, region: str = REPLICA_REGION) -> None:
        """Remove ``replica``'s ReplicaLag datapoints and stop publishing: its lag is unknown."""
        self._request("POST", "/_world/lag", {"region": region, "replica": replica, "seconds": None})

    def lags(self) -> dict[str, dict[str, float]]:
        return self._request("GET", "/_world/lag")

    # --- S3 ---

    def set_replication_status(self, bucket: str, statuses: dict[str, str | None]) -> dict[str, str]:
        """Set each key's x-amz-replication-status (PENDING, COMPLETED, FAILED, REPLICA; None clears it)
        on its current version; returns the bucket's statuses. A later PUT/copy of a key clears it."""
        return self._request("POST", "/_world/s3/replication", {"bucket": bucket, "objects": statuses})

    def replication_statuses(self, bucket: str) -> dict[str, str]:
        """{key: status} of the bucket's current versions that have a replication status."""
        return self._request("GET", "/_world/s3/replication?" + urllib.parse.urlencode({"bucket": bucket}))

    def fill_s3(self, buckets: list[Any], count: int, different: int = 0, prefix: str = "bench/",
                min_bytes: int = 1024, max_bytes: int = 102400, seed: Any = 1) -> dict[str, Any]:
        """``count`` objects in the first bucket, the same in the second but ``different`` of them
        (half missing, half changed, same size); buckets as {"name", "region"} or (name, region)."""
        spec = [b if isinstance(b, dict) else {"name": b[0], "region": b[1]} for b in buckets]
        return self._request("POST", "/_world/s3/fill", {
            "buckets": spec, "count": count, "different": different, "prefix": prefix,
            "min_bytes": min_bytes, "max_bytes": max_bytes, "seed": seed}, timeout=600)

    # --- database writes and replication (data.py) ---

    def write_row(self, marker: str, service: str = "orders", via: str = "edge") -> tuple[int, dict[str, Any]]:
        """POST /v1/<service>/rows {"marker"} through ``via``: "edge", a region ("eu-west-2": its
        regional service) or a base URL. (status, JSON body): 201 {"region", "database", "seq"},
        503 {"region", "error"}; a region that does not answer: 0 {"error"}."""
        base = self.edge_url() if via == "edge" else self.regional_urls().get(via, via)
        req = urllib.request.Request(f"{base.rstrip('/')}/v1/{service}/rows", method="POST",
                                     data=json.dumps({"marker": marker}).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())
        except (OSError, http.client.HTTPException) as exc:  # a down region closes the connection
            return 0, {"error": f"{type(exc).__name__}: {exc}"}

    def write_rows(self, markers: list[str], service: str = "orders", via: str = "edge") -> list[tuple[int, dict[str, Any]]]:
        """write_row for each marker, in order (all of them are tried)."""
        return [self.write_row(marker, service, via) for marker in markers]

    def rows(self, region: str, database: str) -> list[dict[str, Any]]:
        """The rows the DB instance holds now: [{"seq", "marker", "time", "written_to"}], oldest first."""
        query = urllib.parse.urlencode({"region": region, "database": database})
        return self._request("GET", "/_world/data/rows?" + query)["rows"]

    def data_report(self) -> dict[str, dict[str, Any]]:
        """{region: {db: {"role" (primary|replica|promoting|promoted), "status", "rows", "last_seq",
        "writable", "source" ("region/db"), "lacks" (source rows it does not hold), "lacks_markers",
        "lag_seconds" (now, draining once writes stopped), "configured_lag_seconds",
        "writers_stopped_for", "promoted_at"}}}"""
        return self._request("GET", "/_world/data")

    # --- AWS side ---

    def seed(self, lag_seconds: float = 5, outage_writes: bool = False) -> dict[str, Any]:
        """Seed the production-shaped world; with outage_writes, its "outage_writes" key holds the manifest."""
        return _seed.seed(self.endpoint, lag_seconds, outage_writes=outage_writes)

    def outage_writes(self) -> dict[str, Any]:
        """The writes of an eu-west-1 outage (seed.Seeder.outage_writes); returns the manifest."""
        return _seed.Seeder(self.endpoint).outage_writes()

    def client(self, service: str, region: str = "eu-west-1", retries: int | None = None) -> Any:
        """A boto3 client for this world (credentials "testing"); retries=0 disables retrying.

        Clients are cached (creating one costs ~0.3 s of model loading).
        """
        key = (service, region, retries)
        if key not in self._clients:
            config = Config(retries={"mode": "standard", "total_max_attempts": 1 + retries}) if retries is not None else None
            self._clients[key] = _session().client(
                service, region_name=region, endpoint_url=self.endpoint,
                aws_access_key_id="testing", aws_secret_access_key="testing", config=config,
            )
        return self._clients[key]

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (ansible, aws cli) to use this world and nothing else."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
