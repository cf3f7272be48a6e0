"""A loopback fault proxy in front of the kube-apiservers (issue 11): 429, 500 and timeouts at a rate.

Plain HTTP on 127.0.0.1 (a random port per context), forwarding each request, its Authorization
header included, to that context's apiserver over HTTPS (verified against the cluster's CA).
`kubeconfig()` writes a copy of the cluster's kubeconfig whose servers are the proxies, for the
runs under test; the node simulator, the edge and the test's own clients keep the direct one.

A fault is decided before the request is forwarded (so a failed request changed nothing), seeded
and deterministic: the n-th request of a (method, resource) draws from hash(seed, method, resource, n).
Kinds: "429" (Too Many Requests, the apiserver's max-in-flight answer, Retry-After: 0), "500"
(a Status of reason InternalError), "timeout" (the connection held `hang_seconds`, then closed
with no answer). `injected` counts them by "METHOD resource" and kind.

    proxy = FaultProxy(kubeconfig, rate=0.2, seed=1); path = proxy.kubeconfig(tmp_dir); ...; proxy.stop()
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import random
import re
import ssl
import threading
from typing import Any

import yaml

KINDS = ("429", "500", "timeout")
_RESOURCE = re.compile(r"^/(?:api/v1|apis/[^/]+/[^/]+)(?:/namespaces/[^/]+)?/([a-z]+)(?:/[^/?]+)?(/[a-z]+)?")


def resource_of(path: str) -> str:
    """'deployments', 'deployments/scale', 'secrets', 'namespaces' ... of an API path (else the path)."""
    match = _RESOURCE.match(path.split("?", 1)[0])
    return (match.group(1) + (match.group(2) or "")) if match else path.split("?", 1)[0]


class FaultProxy:
    def __init__(self, kubeconfig: str, rate: float = 0.0, seed: int = 0, kinds: tuple[str, ...] = KINDS,
                 hang_seconds: float = 2.0, methods: tuple[str, ...] = ("GET", "PATCH", "PUT", "POST", "DELETE")):
        with open(kubeconfig, encoding="utf-8") as handle:
            self.config = yaml.safe_load(handle)
        self.rate, self.seed, self.kinds, self.hang_seconds, self.methods = rate, seed, tuple(kinds), hang_seconds, methods
        self.lock = threading.Lock()
        self.draws: dict[str, int] = {}
        self.injected: dict[str, dict[str, int]] = {}
        self.forwarded: dict[str, int] = {}
        self.servers: dict[str, http.server.ThreadingHTTPServer] = {}
        for cluster in self.config["clusters"]:
            self.servers[cluster["name"]] = self._serve(cluster["cluster"])

    def configure(self, rate: float | None = None, seed: int | None = None, kinds: tuple[str, ...] | None = None,
                  hang_seconds: float | None = None) -> None:
        with self.lock:
            if rate is not None:
                self.rate = rate
            if seed is not None:
                self.seed = seed
            if kinds is not None:
                self.kinds = tuple(kinds)
            if hang_seconds is not None:
                self.hang_seconds = hang_seconds
            self.draws, self.injected, self.forwarded = {}, {}, {}

    def draw(self, method: str, path: str) -> str | None:
        key = "%s %s" % (method, resource_of(path))
        with self.lock:
            n = self.draws.get(key, 0)
            self.draws[key] = n + 1
            rng = random.Random("%s:%s:%d" % (self.seed, key, n))
            if method not in self.methods or rng.random() >= self.rate:
                self.forwarded[key] = self.forwarded.get(key, 0) + 1
                return None
            kind = self.kinds[rng.randrange(len(self.kinds))]
            self.injected.setdefault(key, {})[kind] = self.injected.setdefault(key, {}).get(kind, 0) + 1
            return kind

    def total_injected(self) -> int:
        with self.lock:
            return sum(sum(kinds.values()) for kinds in self.injected.values())

    def kubeconfig(self, directory: str) -> str:
        """A copy of the kubeconfig whose clusters are served through the proxies (plain HTTP on loopback)."""
        config = json.loads(json.dumps(self.config))
        for cluster in config["clusters"]:
            port = self.servers[cluster["name"]].server_address[1]
            cluster["cluster"] = {"server": "http://127.0.0.1:%d" % port}
        path = os.path.join(directory, "kubeconfig-faults")
        with open(path, "w", encoding="utf-8") as handle:
            yaml.safe_dump(config, handle)
        return path

    def stop(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()

    def _serve(self, cluster: dict[str, Any]) -> http.server.ThreadingHTTPServer:
        upstream = cluster["server"].split("://", 1)[1].rstrip("/")
        context = ssl.create_default_context(cafile=cluster.get("certificate-authority"))
        if cluster.get("certificate-authority-data"):
            import base64
            context = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                kind = proxy.draw(self.command, self.path)
                if kind == "timeout":
                    threading.Event().wait(proxy.hang_seconds)
                    self.close_connection = True
                    self.connection.close()
                    return
                if kind in ("429", "500"):
                    code = int(kind)
                    status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
                              "reason": "TooManyRequests" if code == 429 else "InternalError",
                              "message": "injected %s (tests/k8s/faultproxy.py)" % kind}
                    data = json.dumps(status).encode()
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if code == 429:
                        self.send_header("Retry-After", "0")
                    self.end_headers()
                    self.wfile.write(data)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "accept-encoding")}
                conn = http.client.HTTPSConnection(upstream, context=context, timeout=120)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                self.send_response(resp.status)
                for key, value in resp.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PATCH = do_PUT = do_POST = do_DELETE = _any

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server
