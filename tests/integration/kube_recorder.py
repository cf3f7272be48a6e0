"""A recording proxy in front of the two kube-apiservers: every request the collection makes.

The apiservers' audit log (tests/k8s/cluster.py) holds clients' writes only, and every client there
is the admin user; least privilege (issue 11 item 6) needs the reads too, and only the runs' own.
So the runs under test get a copy of the kubeconfig whose clusters are plain HTTP on 127.0.0.1,
each forwarded, its Authorization header included, to that context's apiserver over HTTPS
(verified against the cluster's CA); the edge, the node simulator and the test's own clients keep
the direct kubeconfig and are not recorded.

    rec = KubeRecorder(kubeconfig); path = rec.kubeconfig(tmp_dir); ...; rec.requests; rec.stop()

`requests` is a list of (cluster, method, path with query); `rbac_request` turns one into what
RBAC checks: (namespace, apiGroup, resource[/subresource], verb) or a non-resource URL.
"""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import os
import re
import ssl
import threading
import urllib.parse

import yaml

_RESOURCE_PATH = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
    r"(?:/namespaces/(?P<ns>[^/]+))?/(?P<resource>[^/]+)(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?$")


def rbac_request(method, path):
    """{"namespace", "group", "resource", "verb"} of an API request, or {"url", "verb"} of a non-resource one."""
    split = urllib.parse.urlsplit(path)
    query = urllib.parse.parse_qs(split.query)
    match = _RESOURCE_PATH.match(split.path)
    method = method.upper()
    if not match:
        return {"url": split.path, "verb": method.lower()}
    # GET /api/v1/namespaces/NS is the namespace itself, not a collection inside it
    if match.group("ns") and match.group("resource") is None:
        return {"url": split.path, "verb": method.lower()}
    named = match.group("name") is not None
    if method == "GET":
        verb = "watch" if query.get("watch", ["false"])[0] in ("1", "true") else ("get" if named else "list")
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if named else "deletecollection"}.get(method, method.lower())
    resource = match.group("resource") + ("/" + match.group("sub") if match.group("sub") else "")
    return {"namespace": match.group("ns"), "group": match.group("group") or "", "resource": resource, "verb": verb}


class KubeRecorder:
    def __init__(self, kubeconfig):
        with open(kubeconfig, encoding="utf-8") as handle:
            self.config = yaml.safe_load(handle)
        self.lock = threading.Lock()
        self.requests = []
        self.servers = {c["name"]: self._serve(c["name"], c["cluster"]) for c in self.config["clusters"]}

    def take(self):
        """The requests since the last take(), and start afresh."""
        with self.lock:
            out, self.requests = self.requests, []
        return out

    def kubeconfig(self, directory):
        config = json.loads(json.dumps(self.config))
        for cluster in config["clusters"]:
            cluster["cluster"] = {"server": "http://127.0.0.1:%d" % self.servers[cluster["name"]].server_address[1]}
        path = os.path.join(directory, "kubeconfig-recorded")
        with open(path, "w", encoding="utf-8") as handle:
            yaml.safe_dump(config, handle)
        return path

    def stop(self):
        for server in self.servers.values():
            server.shutdown()
            server.server_close()

    def _serve(self, name, cluster):
        upstream = cluster["server"].split("://", 1)[1].rstrip("/")
        if cluster.get("certificate-authority-data"):
            context = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        else:
            context = ssl.create_default_context(cafile=cluster.get("certificate-authority"))
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with recorder.lock:
                    recorder.requests.append((name, self.command, self.path))
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
