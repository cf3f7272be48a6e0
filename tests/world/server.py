"""moto's ThreadedMotoServer on 127.0.0.1, with the realism layer in front of it.

``WorldApp`` is WSGI middleware around moto's own dispatcher application. For each
AWS call it counts the call, adds latency (per operation; S3 copies also by size),
simulates a region outage or an injected fault, and settles time-based state
(promotions, ReplicaLag) before moto answers.
It also serves the control API under ``/_world/``:

  GET  /_world/health         {"ok": true}
  GET  /_world/config         current config
  POST /_world/config         JSON merge patch (RFC 7396) -> new config
  GET  /_world/calls          {"total", "by_operation", "by_region", "errors"}
  POST /_world/calls/reset
  POST /_world/reset          moto reset + realism state back to defaults (kubeconfig kept)
  GET  /_world/lag            {region: {replica: seconds}}
  POST /_world/lag            {"replica": id, "seconds": n|null, "region": "eu-west-2"}
                              or {"replicas": {id: n|null}, "region": ...}
  GET  /_world/state          config, pending promotions, lags, pending DNS changes, health checks
  GET  /_world/edge           {"edge": url, "regions": {region: url}} (edge.py)
  POST /_world/s3/replication {"bucket", "key", "status"} or {"bucket", "objects": {key: status|null}}
  GET  /_world/s3/replication?bucket=B   {key: status} (x-amz-replication-status of current versions)
  POST /_world/s3/fill        bulk objects for benchmarks (realism.fill_s3)
  GET  /_world/data           rows, last seq, what each replica/promoted DB lacks (data.report)
  GET  /_world/data/rows?region=R&database=D   the rows D holds now (data.rows_report)

The world server also starts the regional services and the edge (``edge.EdgeServers``).
"""

from __future__ import annotations

import json
import select
import socket
import struct
import threading
import time
import urllib.parse
from typing import Any, Callable, Iterable

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from . import data, edge, realism
from .awsreq import AwsCall, error_response, identify
from .realism import STATE

StartResponse = Callable[..., Any]


class WorldApp:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/_world" or path.startswith("/_world/"):
            return self.control(environ, start_response)
        realism.settle()
        if path.startswith("/moto-api") or path == "/favicon.ico":
            if path == "/moto-api/reset" and environ.get("REQUEST_METHOD") == "POST":
                STATE.forget_resources()  # the instances they refer to are gone; config stays
                edge.reset()
            return self.app(environ, start_response)

        call = identify(environ)
        STATE.count(call.name, call.region)
        config = STATE.snapshot_config()
        latency_ms = config["operation_latency_ms"].get(
            call.name, config["operation_latency_ms"].get(call.service, config["latency_ms"]))
        if latency_ms:
            time.sleep(latency_ms / 1000.0)

        if call.region in config["down_regions"]:
            if config["outage_mode"] == "timeout":
                STATE.record_hold(call.name, self.hold(environ, float(config["outage_timeout_seconds"])))
            return self.fail(environ, start_response, call, 503, "ServiceUnavailable",
                             f"Service unavailable in {call.region} (simulated regional outage).")
        fault = STATE.take_fault(call.name, call.region)
        drawn = STATE.draw_fault(call.name, call.region)
        # A lost answer: the call is served, then its answer is lost (the connection reset); the client tries again.
        lost = bool(fault and fault.get("lost")) or bool(drawn and drawn["kind"] == "lost")
        if fault and fault.get("lost"):
            fault = None
        if drawn and drawn["kind"] == "slow":
            time.sleep(drawn["slow_ms"] / 1000.0)
        elif drawn and drawn["kind"] == "reset":
            return self.reset_connection(environ, start_response, call)
        elif drawn and drawn["kind"] != "lost" and not fault:
            fault = {"status": drawn["status"], "code": drawn["code"],
                     "message": f"Injected {drawn['kind']} fault for {call.name} (fault_rates)."}
        if fault:
            return self.fail(environ, start_response, call, int(fault.get("status", 400)),
                             str(fault.get("code", "InternalFailure")),
                             str(fault.get("message", f"Injected fault for {call.name}.")))

        if call.service == "cloudwatch":
            realism.refresh_lags()
        if call.name in ("s3:CopyObject", "s3:UploadPartCopy"):  # S3 copies take time
            rate, cross = config["s3_copy_bytes_per_second"], config["s3_cross_region_copy_ms"]
            if rate:
                time.sleep(realism.s3_copy_source_bytes(environ) / float(rate))
            if cross and realism.s3_copy_source_region(environ) not in (None, call.region):
                time.sleep(cross / 1000.0)
        if lost:
            return self.lose_answer(environ, start_response, call)
        return self.app(environ, start_response)

    def lose_answer(self, environ, start_response, call: AwsCall):
        """Serve the call (moto changes what it changes), then reset the connection instead of answering: a
        call that succeeded whose answer never reached the client. Not an error (it was served); counted in
        calls()["injected"] as kind "lost"."""
        STATE.count_injected(call.name, "lost")
        body = self.app(environ, lambda *args, **kwargs: (lambda data: None))
        try:
            for _chunk in body:
                pass
        finally:
            if hasattr(body, "close"):
                body.close()
        return self.reset_connection(environ, start_response, call, error=False)

    def fail(self, environ, start_response, call: AwsCall, status: int, code: str, message: str):
        STATE.count_error(call.name)
        status_line, headers, body = error_response(call, status, code, message)
        if environ.get("REQUEST_METHOD") == "HEAD":  # HEAD answers carry no body (S3 HeadObject)
            body = b""
            headers = [(k, "0" if k == "Content-Length" else v) for k, v in headers]
        start_response(status_line, headers)
        return [body]

    @staticmethod
    def hold(environ, seconds: float) -> float:
        """Hang up to `seconds` (a region that does not answer), or until the client gives up and
        closes the connection; returns how long the client waited."""
        started = time.monotonic()
        sock = environ.get("werkzeug.socket")
        while time.monotonic() - started < seconds:
            if sock is None:
                time.sleep(min(0.05, seconds))
                continue
            try:
                readable, _w, _x = select.select([sock], [], [], 0.05)
                if readable and sock.recv(1, socket.MSG_PEEK) == b"":
                    break  # the client closed the connection: it stopped waiting
            except (OSError, ValueError):
                break
        return time.monotonic() - started

    def reset_connection(self, environ, start_response, call: AwsCall, error: bool = True):
        """Close the client's connection without an answer (a connection reset); moto never sees the call
        (error=False: it did, lose_answer)."""
        if error:
            STATE.count_error(call.name)
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, not FIN
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        start_response("500 Internal Server Error", [("Content-Length", "0"), ("Connection", "close")])
        return [b""]

    # --- control API ---

    def control(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        route = environ.get("PATH_INFO", "").rstrip("/")
        try:
            body = self._json_body(environ) if method == "POST" else None
            query = {k: v[-1] for k, v in urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).items()}
            realism.settle()
            result = self.route(method, route, body, query)
        except (realism.ConfigError, realism.WorldError) as exc:
            return self._json(start_response, 400, {"error": str(exc)})
        except (ValueError, KeyError, TypeError) as exc:
            return self._json(start_response, 400, {"error": f"bad request: {exc!r}"})
        if result is None:
            return self._json(start_response, 404, {"error": f"no such control endpoint: {method} {route}"})
        return self._json(start_response, 200, result)

    def route(self, method: str, route: str, body: Any, query: dict[str, str]) -> Any:
        if (method, route) == ("GET", "/_world/health"):
            return {"ok": True}
        if route == "/_world/config":
            if method == "POST":
                return STATE.configure(body or {})
            return STATE.snapshot_config()
        if (method, route) == ("GET", "/_world/calls"):
            return STATE.calls_report()
        if (method, route) == ("POST", "/_world/calls/reset"):
            STATE.reset_calls()
            return {"ok": True}
        if (method, route) == ("POST", "/_world/reset"):
            realism.reset()
            edge.reset()
            return {"ok": True}
        if (method, route) == ("GET", "/_world/edge"):
            if edge.RUNNING is None:
                return {"edge": None, "regions": {}}
            return edge.RUNNING.urls()
        if route == "/_world/lag":
            if method == "POST":
                region = body.get("region", realism.STANDBY_REGION)
                replicas = body["replicas"] if "replicas" in body else {body["replica"]: body.get("seconds")}
                for replica, seconds in replicas.items():
                    realism.set_lag(replica, None if seconds is None else float(seconds), region)
            return realism.lags_report()
        if route == "/_world/s3/replication":
            if method == "POST":
                statuses = body["objects"] if "objects" in body else {body["key"]: body.get("status")}
                return realism.set_replication_statuses(body["bucket"], statuses)
            return realism.replication_statuses(query["bucket"])
        if (method, route) == ("POST", "/_world/s3/fill"):
            return realism.fill_s3(body)
        if route == "/_world/data" or route.startswith("/_world/data/"):
            return data.control(method, route, query)
        if (method, route) == ("GET", "/_world/state"):
            return {
                "config": STATE.snapshot_config(),
                "promotions": realism.pending_promotions(),
                "lags": realism.lags_report(),
                "dns_changes": realism.pending_dns_changes(),
                "health_checks": realism.health_report(),
            }
        return None

    @staticmethod
    def _json_body(environ: dict[str, Any]) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        return json.loads(raw) if raw.strip() else {}

    @staticmethod
    def _json(start_response: StartResponse, status: int, payload: Any) -> Iterable[bytes]:
        data = json.dumps(payload, sort_keys=True).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
        start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]


class _QuietHandler(MotoRequestHandler):
    """No werkzeug access log line per request (thousands in a benchmark)."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class WorldServer(ThreadedMotoServer):
    """ThreadedMotoServer with WorldApp wrapped around moto's app, loopback only."""

    def __init__(self, port: int = 0, ip_address: str = "127.0.0.1") -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=False)
        self.edge: edge.EdgeServers | None = None

    def _server_entry(self) -> None:  # same as moto's, plus the middleware and quiet handler
        app = WorldApp(DomainDispatcherApplication(create_backend_app))
        try:
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=_QuietHandler)
        except Exception as exc:  # e.g. port in use: let start() raise instead of waiting forever
            self._start_error = exc
            self._server_ready_event.set()
            return
        self._server_ready_event.set()
        self._server.serve_forever()

    def start(self) -> None:
        self._start_error: Exception | None = None
        super().start()
        if self._start_error is not None:
            raise self._start_error
        self.edge = edge.EdgeServers()
        self.edge.start()

    @property
    def endpoint(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"

    @property
    def edge_url(self) -> str:
        return self.edge.urls()["edge"] if self.edge else ""

    def stop(self) -> None:
        if self.edge is not None:
            self.edge.stop()
            self.edge = None
        if self._server is None:
            return
        super().stop()
        if self._server is not None:
            self._server.server_close()  # release the port now, not at garbage collection


_world_lock = threading.Lock()


def start_world(port: int = 0) -> WorldServer:
    """Start the world in this process on 127.0.0.1 (random free port by default).

    moto's state is process-global, so there is one world per process; a second
    server would serve the same state.
    """
    with _world_lock:
        realism.install()
        server = WorldServer(port=port)
        server.start()
        return server
