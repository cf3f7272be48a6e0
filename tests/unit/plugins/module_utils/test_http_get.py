"""module_utils/http_get.py: one GET of a health URL against a real server on loopback, never raising."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.lomashwood.multiregion.plugins.module_utils import http_get


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # pylint: disable=invalid-name
        code, body = {"/health": (200, json.dumps({"region": "eu-west-1"})), "/text": (200, "plain"),
                      "/agent": (200, json.dumps({"agent": self.headers.get("User-Agent")}))}.get(
            self.path, (503, json.dumps({"error": "draining"})))
        self.send_response(code)
        self.send_header("X-Edge-Region", "eu-west-1")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture(scope="module")
def base():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()


def test_an_answer_with_json_and_its_headers(base):
    answer = http_get.get(base + "/health", 5)
    assert (answer["status"], answer["json"], answer["msg"]) == (200, {"region": "eu-west-1"}, "OK")
    assert answer["headers"]["x-edge-region"] == "eu-west-1" and answer["url"] == base + "/health"
    assert http_get.get(base + "/agent", 5)["json"] == {"agent": "ansible-httpget"}  # as fetch_url sent it


def test_an_error_status_keeps_its_body_and_a_body_that_is_not_json_is_text(base):
    answer = http_get.get(base + "/down", 5)
    assert answer["status"] == 503 and answer["json"] == {"error": "draining"} and "HTTP Error 503" in answer["msg"]
    assert answer["headers"]["x-edge-region"] == "eu-west-1"
    plain = http_get.get(base + "/text", 5)
    assert (plain["status"], plain["body"], plain["json"]) == (200, "plain", None)


def test_nothing_answering_is_status_minus_one_with_why():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    answer = http_get.get("http://127.0.0.1:%d/health" % port, 2)
    assert answer["status"] == -1 and answer["json"] is None and answer["msg"].startswith("Request failed:")
