"""A local stand-in for the two Stripe API endpoints the stripe_webhook role uses (loopback only).

    GET  /v1/webhook_endpoints           list (Stripe's list object; limit, starting_after)
    POST /v1/webhook_endpoints/<id>      form-encoded ``url=...``: update the endpoint's URL

Every request needs ``Authorization: Bearer <api key>`` (else 401, as Stripe). The calls it got are
kept (method and path only, never the key) for tests.

    from tests.world.stripe import start_stripe
    server = start_stripe("sk_test_...", ["https://api.lomashwood.com/v1/webhooks/stripe"])
    server.url, server.calls, server.endpoints, server.stop()
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StripeStandIn:
    def __init__(self, api_key: str, urls: list[str]):
        self.api_key = api_key
        self.endpoints = [{"id": "we_%04d" % i, "object": "webhook_endpoint", "url": url, "status": "enabled"}
                          for i, url in enumerate(urls, 1)]
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):  # quiet
                pass

            def answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def authorised(self):
                if self.headers.get("Authorization") != "Bearer " + stand_in.api_key:
                    self.answer(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}})
                    return False
                return True

            def do_GET(self):  # pylint: disable=invalid-name
                url = urllib.parse.urlsplit(self.path)
                with stand_in.lock:
                    stand_in.calls.append(("GET", url.path))
                if not self.authorised():
                    return
                if url.path != "/v1/webhook_endpoints":
                    self.answer(404, {"error": {"message": "Unrecognized request URL"}})
                    return
                query = urllib.parse.parse_qs(url.query)
                limit = int(query.get("limit", ["10"])[0])
                after = query.get("starting_after", [None])[0]
                with stand_in.lock:
                    ids = [e["id"] for e in stand_in.endpoints]
                    start = ids.index(after) + 1 if after in ids else 0
                    page = [dict(e) for e in stand_in.endpoints[start:start + limit]]
                    more = start + limit < len(stand_in.endpoints)
                self.answer(200, {"object": "list", "url": "/v1/webhook_endpoints", "has_more": more, "data": page})

            def do_POST(self):  # pylint: disable=invalid-name
                path = urllib.parse.urlsplit(self.path).path
                with stand_in.lock:
                    stand_in.calls.append(("POST", path))
                if not self.authorised():
                    return
                form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
                with stand_in.lock:
                    found = [e for e in stand_in.endpoints if "/v1/webhook_endpoints/" + e["id"] == path]
                    if not found:
                        self.answer(404, {"error": {"message": "No such webhook endpoint"}})
                        return
                    if "url" in form:
                        found[0]["url"] = form["url"][0]
                    body = dict(found[0])
                self.answer(200, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def start_stripe(api_key: str, urls: list[str]) -> StripeStandIn:
    return StripeStandIn(api_key, urls)
