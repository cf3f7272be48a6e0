"""A local stand-in for the platform's edge (DESIGN §4): regional services and a DNS-following edge.

Inside the world process, on 127.0.0.1 (random ports), started with the world server:

* one **regional service** per region (eu-west-1, eu-west-2). ``GET /health`` answers
  200 ``{"region": r, "status": "ok"}`` while the region is up (not in ``down_regions``)
  and that region's ``api-gateway`` deployment has a ready pod; ``GET /v1/<svc>/health``
  the same for the gateway and the service's deployment (auth -> auth-service, products ->
  product-service, orders -> order-payment-service, ...); otherwise 503 with
  ``{"region", "error"}`` saying why; ``POST /v1/<svc>/rows`` writes a row (data.py). A
  down region does not answer: the connection is closed without a response (what a client
  of a dead region sees). Deployments are read from the kubeconfig in the config key
  ``kubeconfig`` (context ``lomash-wood-<region>``, namespace ``lomash-wood``), cached 0.5 s;
  with no kubeconfig, or no deployments in the namespace (the Kubernetes side not seeded),
  every service of an up region counts as ready.
* the **edge**. Every request resolves a name (the Host header's, if it is a name in a
  hosted zone, else api.lomashwood.com) through the *published* records of the emulator's
  hosted zones (``realism.published_records``: a change still PENDING is not seen), the
  way Route 53 answers: simple, alias, failover and weighted records, health checks as
  ``GetHealthCheckStatus`` reports them. The answer is cached for its TTL
  (``resolver_ttl_seconds`` or the record's). The load balancer it lands on names the
  region; the request is forwarded to that region's service and its status and body
  returned, with ``X-Edge-Region`` and ``X-Edge-Resolved``. ``GET /_edge/resolve[?name=]``
  shows the answer without forwarding. Nothing resolves, or the region does not answer:
  502 ``{"error", "resolved"}``.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

from . import data, realism
from .realism import STATE

REGIONS = ("eu-west-1", "eu-west-2")
NAMESPACE = "lomash-wood"
GATEWAY = "api-gateway"
DEFAULT_NAME = "api.lomashwood.com"
# /v1/<path segment>/health -> deployment (the nine of tests/k8s/seed.py DEPLOYMENTS).
SERVICE_DEPLOYMENTS = {
    "auth": "auth-service",
    "products": "product-service",
    "orders": "order-payment-service",
    "customers": "customer-service",
    "content": "content-service",
    "notifications": "notification-service",
    "appointments": "appointment-service",
    "analytics": "analytics-service",
}
DEPLOYMENTS_CACHE_SECONDS = 0.5
ALIAS_TTL = 60  # what Route 53 answers for an alias to a load balancer
MAX_HOPS = 8


def context(region: str) -> str:
    return f"lomash-wood-{region}"


# --- Kubernetes: ready pods per deployment --------------------------------------


class Deployments:
    """{deployment: readyReplicas} of a region's namespace, cached briefly (errors too)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cache: dict[tuple[str, str], tuple[float, dict[str, int] | str]] = {}
        self.apis: dict[tuple[str, str], Any] = {}

    def reset(self) -> None:
        with self.lock:
            self.cache.clear()
            self.apis.clear()

    def ready(self, kubeconfig: str, region: str) -> dict[str, int]:
        """Raises RuntimeError with the reason if the control plane cannot be read."""
        key = (kubeconfig, region)
        with self.lock:  # one reader at a time: the cache then serves everyone else
            hit = self.cache.get(key)
            if hit is None or time.monotonic() - hit[0] > DEPLOYMENTS_CACHE_SECONDS:
                hit = (time.monotonic(), self._read(key))
                self.cache[key] = hit
        if isinstance(hit[1], str):
            raise RuntimeError(hit[1])
        return hit[1]

    def _read(self, key: tuple[str, str]) -> dict[str, int] | str:
        from kubernetes import client, config

        kubeconfig, region = key
        try:
            if key not in self.apis:
                cfg = client.Configuration()
                config.load_kube_config(config_file=kubeconfig, context=context(region),
                                        client_configuration=cfg, persist_config=False)
                self.apis[key] = client.AppsV1Api(client.ApiClient(cfg))
            items = self.apis[key].list_namespaced_deployment(NAMESPACE, _request_timeout=3).items
        except Exception as exc:  # pylint: disable=broad-except  (any failure is the service's 503 reason)
            self.apis.pop(key, None)
            return f"cannot read deployments in {context(region)}/{NAMESPACE}: {type(exc).__name__}: {exc}"[:500]
        return {d.metadata.name: int(d.status.ready_replicas or 0) for d in items}


DEPLOYMENTS = Deployments()


def answer(region: str, path: str) -> tuple[int, dict[str, Any]] | None:
    """The regional service's answer to GET path: (status, JSON body), or None if the region is down."""
    config = STATE.snapshot_config()
    if region in config["down_regions"]:
        return None
    path = urllib.parse.urlsplit(path).path.rstrip("/") or "/"
    if path == "/health":
        needed, body = [GATEWAY], {"region": region, "status": "ok"}
    else:
        match = re.fullmatch(r"/v1/([A-Za-z0-9_-]+)/health", path)
        if not match:
            return 404, {"region": region, "error": f"no such path: {path}"}
        service = SERVICE_DEPLOYMENTS.get(match.group(1))
        if service is None:
            return 404, {"region": region, "error": f"no such service: {match.group(1)}"}
        # Requests reach a service through the API gateway, so both must have a ready pod.
        needed, body = [GATEWAY, service], {"region": region, "service": service, "status": "ok"}
    if not config["kubeconfig"]:
        return 200, body
    try:
        ready = DEPLOYMENTS.ready(config["kubeconfig"], region)
    except RuntimeError as exc:
        return 503, {"region": region, "error": str(exc)}
    if not ready:  # no deployments at all: the Kubernetes side is not seeded, as with no kubeconfig
        return 200, body
    for name in needed:
        if name not in ready:
            return 503, {"region": region, "error": f"{name} is not deployed in {context(region)}/{NAMESPACE}"}
        if ready[name] < 1:
            return 503, {"region": region, "error": f"{name} has 0 ready pods"}
    return 200, body


# --- the resolver -----------------------------------------------------------------


def _norm(name: str) -> str:
    return (name or "").strip().rstrip(".").lower()


def _zones() -> list[Any]:
    from moto.route53.models import route53_backends

    return [z for z in list(route53_backends[DEFAULT_ACCOUNT_ID]["aws"].zones.values()) if not z.private_zone]


def _zone_for(name: str) -> Any | None:
    """The public hosted zone with the longest suffix of name."""
    best = None
    for zone in _zones():
        zname = _norm(zone.name)
        if (name == zname or name.endswith("." + zname)) and (best is None or len(zname) > len(_norm(best.name))):
            best = zone
    return best


def in_a_zone(name: str) -> bool:
    name = _norm(name)
    zone = _zone_for(name) if name else None
    return zone is not None and any(_norm(r["Name"]) == name for r in realism.published_records(zone))


def _load_balancer_region(dns_name: str) -> str | None:
    from moto.elbv2.models import elbv2_backends

    name = _norm(dns_name)
    name = name[len("dualstack."):] if name.startswith("dualstack.") else name
    for region, backend in list(elbv2_backends[DEFAULT_ACCOUNT_ID].items()):
        for lb in list(backend.load_balancers.values()):
            if _norm(lb.dns_name) == name:
                return region
    return None


def target_region(target: str) -> str | None:
    """The region a resolved name or address is served from: its ELBv2 load balancer, else the name."""
    return _load_balancer_region(target) or realism.region_in_name(target)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


class Resolver:
    """Resolves names the way Route 53 answers them, from the published records."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self.random = random.Random(0)  # seeded: weighted answers are reproducible

    def reset(self) -> None:
        with self.lock:
            self.cache.clear()
            self.random = random.Random(0)

    def resolve(self, name: str) -> dict[str, Any]:
        name = _norm(name) or DEFAULT_NAME
        now = time.monotonic()
        with self.lock:
            hit = self.cache.get(name)
        if hit and hit[0] > now:
            return dict(hit[1], cached=True, ttl_left=round(hit[0] - now, 3))
        result = self._walk(name)
        ttl_setting = STATE.snapshot_config()["resolver_ttl_seconds"]
        ttl = float(result["ttl"] if ttl_setting is None else ttl_setting)
        if result["error"] is None and ttl > 0:  # failures are not cached
            with self.lock:
                self.cache[name] = (now + ttl, result)
        return dict(result, cached=False, ttl_left=ttl if result["error"] is None else 0)

    def _walk(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = {"name": name, "region": None, "target": None, "set_identifier": None,
                                  "ttl": 0, "chain": [], "error": None}
        ttls: list[int] = []
        current = name
        for _ in range(MAX_HOPS):
            zone = _zone_for(current)
            if zone is None:
                break  # outside our zones: the final name (a load balancer)
            records = [r for r in realism.published_records(zone)
                       if _norm(r["Name"]) == current and r["Type"] in ("A", "AAAA", "CNAME")]
            if not records:
                result["error"] = f"no A/CNAME records for {current} in zone {_norm(zone.name)}"
                return result
            record, why = self._choose(records)
            alias = record.get("AliasTarget")
            value = _norm(alias["DNSName"]) if alias else _norm((record.get("ResourceRecords") or [""])[0])
            ttls.append(ALIAS_TTL if alias else int(record.get("TTL") or 0))
            result["chain"].append({"name": current, "type": record["Type"], "set_identifier": record.get("SetIdentifier"),
                                    "value": value, "alias": bool(alias), "why": why})
            if result["set_identifier"] is None:
                result["set_identifier"] = record.get("SetIdentifier")
            current = value
            if not alias and record["Type"] in ("A", "AAAA"):
                break  # an address: the end
        else:
            result["error"] = f"more than {MAX_HOPS} hops resolving {name}"
            return result
        result["target"], result["ttl"] = current, min(ttls) if ttls else 0
        result["region"] = target_region(current)
        if result["region"] is None:
            result["error"] = f"{current} is not a load balancer in any region"
        return result

    def _choose(self, records: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
        failover = [r for r in records if r.get("Failover")]
        if failover:
            primary = next((r for r in failover if r["Failover"] == "PRIMARY"), None)
            secondary = next((r for r in failover if r["Failover"] == "SECONDARY"), None)
            if primary is not None and self._healthy(primary):
                return primary, "failover: primary healthy"
            if secondary is not None and self._healthy(secondary):
                return secondary, "failover: primary unhealthy" if primary else "failover: no primary"
            # Both unhealthy: Route 53 answers with the primary.
            return (primary or secondary), "failover: no healthy record, primary answered"
        weighted = [r for r in records if r.get("Weight") is not None]
        if weighted:
            healthy = [r for r in weighted if self._healthy(r)]
            pool = healthy or weighted  # none healthy: Route 53 treats them all as healthy
            positive = [r for r in pool if int(r["Weight"]) > 0]
            with self.lock:
                if positive:
                    chosen = self.random.choices(positive, weights=[int(r["Weight"]) for r in positive])[0]
                else:  # all weights 0: equal shares
                    chosen = self.random.choice(pool)
            return chosen, f"weighted: {int(chosen['Weight'])} of {sum(int(r['Weight']) for r in pool)}" + (
                "" if healthy else " (none healthy)")
        return records[0], "simple"

    def _healthy(self, record: dict[str, Any]) -> bool:
        from moto.route53.models import route53_backends

        check_id = record.get("HealthCheckId")
        if check_id:
            check = route53_backends[DEFAULT_ACCOUNT_ID]["aws"].health_checks.get(check_id)
            if check is None or not realism.health_check_healthy(check):
                return False
        alias = record.get("AliasTarget")
        if alias and _truthy(alias.get("EvaluateTargetHealth")):
            region = _load_balancer_region(alias["DNSName"])
            if region is not None:  # a load balancer is healthy when its region's gateway answers
                found = answer(region, "/health") if region in REGIONS else (200, {})
                return found is not None and found[0] == 200
        return True


RESOLVER = Resolver()


# --- HTTP servers -----------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lomash-wood-world"

    def log_message(self, *args: Any) -> None:  # no access log
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data, sort_keys=True).encode(), headers)

    def do_GET(self) -> None:  # noqa: N802 - http.server's names
        self.handle_any()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def handle_any(self) -> None:
        raise NotImplementedError


class _RegionalHandler(_Handler):
    region = ""

    def handle_any(self) -> None:
        body = self._body()
        realism.settle()
        found = data.write(self.region, self.path, body) if data.is_write(self.command, self.path) \
            else answer(self.region, self.path)
        if found is None:  # a down region does not answer
            self.close_connection = True
            return
        self._json(*found)


class _EdgeHandler(_Handler):
    def handle_any(self) -> None:
        body = self._body()
        realism.settle()
        url = urllib.parse.urlsplit(self.path)
        host = _norm((self.headers.get("Host") or "").split(":")[0])
        if url.path.rstrip("/") == "/_edge/resolve":
            asked = urllib.parse.parse_qs(url.query).get("name", [None])[0]
            name = _norm(asked) if asked else (host if in_a_zone(host) else DEFAULT_NAME)
            result = RESOLVER.resolve(name)
            self._json(200 if result["error"] is None else 502, result)
            return
        result = RESOLVER.resolve(host if in_a_zone(host) else DEFAULT_NAME)
        if result["error"] is not None:
            self._json(502, {"error": f"cannot resolve {result['name']}: {result['error']}", "resolved": result})
            return
        region, target = result["region"], result["target"]
        headers = {"X-Edge-Region": region, "X-Edge-Resolved": target}
        port = RUNNING.regional_ports.get(region) if RUNNING else None
        if port is None:
            self._json(502, {"error": f"{target} is in {region}, which has no regional service here",
                             "resolved": result}, headers)
            return
        forward = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "content-length")}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request(self.command, self.path, body=body or None, headers=forward)
            resp = conn.getresponse()
            payload = resp.read()
            status, ctype = resp.status, resp.getheader("Content-Type", "application/json")
        except (OSError, http.client.HTTPException) as exc:
            self._json(502, {"error": f"{region} did not answer: {type(exc).__name__}: {exc}", "resolved": result},
                       headers)
            return
        finally:
            conn.close()
        self._send(status, payload, headers, ctype)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _serve(handler: type) -> tuple[_Server, threading.Thread]:
    server = _Server(("127.0.0.1", 0), handler)  # loopback only, a free port
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
                              name=f"world-{handler.__name__}")
    thread.start()
    return server, thread


class EdgeServers:
    """The regional services, the edge and the health check monitor, for one world process."""

    def __init__(self) -> None:
        self.servers: list[tuple[_Server, threading.Thread]] = []
        self.regional_ports: dict[str, int] = {}
        self.edge_port = 0
        self.stopping = threading.Event()
        self.monitor: threading.Thread | None = None

    def start(self) -> None:
        global RUNNING
        for region in REGIONS:
            handler = type(f"Regional_{region.replace('-', '_')}", (_RegionalHandler,), {"region": region})
            server, thread = _serve(handler)
            self.servers.append((server, thread))
            self.regional_ports[region] = server.server_address[1]
        server, thread = _serve(_EdgeHandler)
        self.servers.append((server, thread))
        self.edge_port = server.server_address[1]
        self.monitor = threading.Thread(target=self._monitor, daemon=True, name="world-health-monitor")
        self.monitor.start()
        RUNNING = self

    def _monitor(self) -> None:
        # With a detection delay, Route 53 keeps checking whether anyone asks: so does this.
        while not self.stopping.wait(0.2):
            try:
                if float(STATE.snapshot_config()["health_check_delay_seconds"]) > 0:
                    realism.sample_health_checks()
            except Exception:  # noqa: BLE001 - a moto reset mid-sample; next round
                pass

    def urls(self) -> dict[str, Any]:
        return {"edge": f"http://127.0.0.1:{self.edge_port}",
                "regions": {r: f"http://127.0.0.1:{p}" for r, p in self.regional_ports.items()}}

    def stop(self) -> None:
        global RUNNING
        self.stopping.set()
        for server, thread in self.servers:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
        self.servers.clear()
        if RUNNING is self:
            RUNNING = None


RUNNING: EdgeServers | None = None


def region_of_address(address: str, port: int | None) -> str | None:
    """The region whose regional service listens at address and port (a health check by IP)."""
    if RUNNING is None or port is None or address not in ("127.0.0.1", "localhost"):
        return None
    return next((r for r, p in RUNNING.regional_ports.items() if p == int(port)), None)


def reset() -> None:
    """Forget cached answers and deployments; reseed the weighted choice."""
    RESOLVER.reset()
    DEPLOYMENTS.reset()
