"""A local stand-in for a Slack incoming webhook, for the declare role (loopback only).

    POST /services/<T...>/<B...>/<secret>   JSON {"text", "channel", "username", ...}

Answers as Slack's incoming webhooks do: 200 with the body ``ok`` for the webhook's own path; 404
``no_service`` for any other path; 400 ``invalid_payload`` for a body that is not JSON with a
``text``. ``fail_status`` makes every post fail with that status (e.g. 500) to test a Slack outage.
Every post is kept in ``messages`` (path-checked, body parsed), without the path: the path is the
secret.

    from tests.world.slack import start_slack
    server = start_slack()
    server.webhook_url        # http://127.0.0.1:PORT/services/T.../B.../<random secret>
    server.messages, server.posts, server.fail_status = 500, server.stop()
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class SlackStandIn:
    def __init__(self):
        self.path = "/services/T%s/B%s/%s" % (secrets.token_hex(4).upper(), secrets.token_hex(4).upper(),
                                              secrets.token_urlsafe(18))
        self.messages: list[dict] = []   # the accepted messages' bodies
        self.posts = 0                   # every POST, accepted or not
        self.fail_status = None
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):  # quiet
                pass

            def answer(self, status, text):
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # pylint: disable=invalid-name
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with stand_in.lock:
                    stand_in.posts += 1
                    fail_status = stand_in.fail_status
                if fail_status:
                    self.answer(fail_status, "internal_error")
                    return
                if self.path != stand_in.path:
                    self.answer(404, "no_service")
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                if not isinstance(body, dict) or not body.get("text"):
                    self.answer(400, "invalid_payload")
                    return
                with stand_in.lock:
                    stand_in.messages.append(body)
                self.answer(200, "ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.webhook_url = self.url + self.path
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def start_slack() -> SlackStandIn:
    return SlackStandIn()
