# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""One GET of a health URL, never raising: what health_wait polls and a traffic shift's gate asks.

Over ansible's open_url with certificate checking given explicitly: fetch_url would take it from the
module's own validate_certs, which on an AWS module (route53_failover) is the AWS API's.
"""

from __future__ import annotations

import json

from ansible.module_utils.six.moves.urllib.error import HTTPError
from ansible.module_utils.urls import open_url


def get(url, timeout, validate_certs=True):
    """{url, status, body, json, headers, msg} of one GET: status -1 (with msg saying why) when nothing
    answered; json the parsed body when it is JSON, else None; headers with lower-case names."""
    try:
        response = open_url(url, method="GET", timeout=timeout, validate_certs=validate_certs,
                            headers={"Accept": "application/json"}, http_agent="ansible-httpget")
        status, msg, headers = response.getcode(), "OK", response.headers
    except HTTPError as exc:
        response, status, msg, headers = exc, exc.code, "HTTP Error %s: %s" % (exc.code, exc.reason), exc.headers or {}
    except Exception as exc:  # pylint: disable=broad-except
        # No answer (refused, timed out, TLS): ansible.builtin.uri's status -1, with why.
        return dict(url=url, status=-1, body="", json=None, headers={}, msg="Request failed: %s" % exc)
    try:
        body = response.read()
    except Exception as exc:  # pylint: disable=broad-except
        body, msg = b"", "%s; reading the answer failed: %s" % (msg, exc)
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body or "")
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    return dict(url=url, status=status, body=text, json=parsed, msg=msg,
                headers={str(k).lower(): v for k, v in dict(headers).items()})
