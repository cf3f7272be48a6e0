#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: health_wait
short_description: Wait until an HTTP health endpoint answers as expected, saying what it answers meanwhile
version_added: 0.2.0
description:
  - Requests I(url) once per I(poll_interval) until it answers with one of I(status_code) and a
    JSON body holding every field of I(expect_json), or I(timeout) seconds pass. For the runbook's
    verification, C(GET https://api.lomashwood.com/health) answering C({"region" = "eu-west-2"})
    once DNS has moved (the record's TTL plus propagation).
  - One module run for the whole wait, instead of an C(until)/C(retries) loop over
    M(ansible.builtin.uri) that prints C(FAILED - RETRYING) once an attempt. While it waits, the
    collection's action plugin prints what the endpoint answers now (status, the expected fields'
    values, the answering edge's region), now and then.
  - Only reads. The result says whether the answer came (I(matched)); it fails only with
    I(fail_on_timeout=true), so that a playbook can word its own failure.
options:
  url:
    description: The URL to request (C(GET)).
    type: str
    required: true
  expect_json:
    description: Fields the JSON body must hold, with these values.
    type: dict
    default: {}
  status_code:
    description: The HTTP statuses that count as an answer.
    type: list
    elements: int
    default: [200]
  timeout:
    description: Seconds to wait for the expected answer, counted from the first request.
    type: int
    default: 180
  poll_interval:
    description: Seconds between two requests.
    type: float
    default: 5
  request_timeout:
    description: Seconds one request may take.
    type: float
    default: 10
  validate_certs:
    description: Check the server's TLS certificate.
    type: bool
    default: true
  fail_on_timeout:
    description: Fail when the expected answer did not come within I(timeout).
    type: bool
    default: false
  progress_file:
    description:
      - A file what the endpoint answered last is written to after every request (JSON, replaced
        atomically). The collection's action plugin sets it itself when the task runs on the
        controller, and prints a line from it now and then while the module waits.
    type: path
attributes:
  check_mode:
    description: Runs in check mode as in a real run (it only reads).
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
  idempotent:
    description: Changes nothing.
    support: full
seealso:
  - module: ansible.builtin.uri
author:
  - Lomash Wood platform team (@lomashwood)
"""

EXAMPLES = r"""
- name: Wait until the API answers from the standby region
  lomashwood.multiregion.health_wait:
    url: https://api.lomashwood.com/health
    expect_json:
      region: eu-west-2
    timeout: 180
    poll_interval: 5
  register: health

- name: Say what answered
  ansible.builtin.assert:
    that: health.matched
    fail_msg: "The API did not answer from eu-west-2: HTTP {{ health.status }} {{ health.content | truncate(200) }}"
"""

RETURN = r"""
matched:
  description: Whether the expected answer came within I(timeout).
  returned: always
  type: bool
  sample: true
status:
  description: The HTTP status of the last answer (-1 when the request itself failed).
  returned: always
  type: int
  sample: 200
json:
  description: The last answer's body, parsed, when it was JSON.
  returned: when the last answer was JSON
  type: dict
  sample: {"region": "eu-west-2", "status": "ok"}
content:
  description: The last answer's body (up to 4,000 characters).
  returned: always
  type: str
msg:
  description: What happened, or why the last request failed.
  returned: always
  type: str
x_edge_region:
  description: The region the answering edge named (its C(X-Edge-Region) header), when it did.
  returned: when the answer had the header
  type: str
  sample: eu-west-2
attempts:
  description: How many requests were made.
  returned: always
  type: int
  sample: 3
elapsed_seconds:
  description: Seconds from the first request to the last answer.
  returned: always
  type: float
  sample: 10.4
started_at:
  description: When the first request was made (seconds since the epoch).
  returned: always
  type: float
  sample: 1765031234.52
answered_at:
  description: When the last answer came (seconds since the epoch); with I(matched), when the expected one did.
  returned: always
  type: float
  sample: 1765031244.93
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lomashwood.multiregion.plugins.module_utils import http_get
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import write_progress


def answer_view(status, data, expected, edge):
    """What the endpoint answers, in a few words: 'HTTP 200, region eu-west-1 (edge eu-west-1)'."""
    words = ["HTTP %s" % status if status != -1 else "no answer"]
    for field in expected:
        words.append("%s %s" % (field, data.get(field, "missing") if isinstance(data, dict) else "not JSON"))
    text = ", ".join(words)
    return text + (" (edge %s)" % edge if edge else "")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            expect_json=dict(type="dict", default={}),
            status_code=dict(type="list", elements="int", default=[200]),
            timeout=dict(type="int", default=180),
            poll_interval=dict(type="float", default=5),
            request_timeout=dict(type="float", default=10),
            validate_certs=dict(type="bool", default=True),
            fail_on_timeout=dict(type="bool", default=False),
            progress_file=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    problems = []
    if not p["url"].startswith(("http://", "https://")):
        problems.append("url must start with http:// or https://, got %r" % p["url"])
    if p["timeout"] < 0:
        problems.append("timeout must be at least 0, got %s" % p["timeout"])
    for option in ("poll_interval", "request_timeout"):
        if p[option] <= 0:
            problems.append("%s must be more than 0, got %s" % (option, p[option]))
    if problems:
        module.fail_json(msg="; ".join(problems), problems=problems, changed=False)

    started, started_at = time.monotonic(), time.time()
    deadline = started + p["timeout"]
    attempts = 0
    while True:
        attempts += 1
        answer = http_get.get(p["url"], p["request_timeout"], p["validate_certs"])
        status, body, data = answer["status"], answer["body"], answer["json"]
        edge, answered_at = answer["headers"].get("x-edge-region"), time.time()
        matched = status in p["status_code"] and isinstance(data, dict) and all(
            data.get(k) == v for k, v in p["expect_json"].items())
        now = time.monotonic()
        if p["progress_file"]:
            write_progress(p["progress_file"], "health", 1, [p["url"]] if matched else [],
                           {} if matched else {p["url"]: answer_view(status, data, p["expect_json"], edge)},
                           now - started, done_word="as expected")
        if matched or now >= deadline:
            break
        time.sleep(min(p["poll_interval"], deadline - now))

    result = dict(changed=False, matched=matched, status=status, content=body[:4000], attempts=attempts,
                  elapsed_seconds=round(time.monotonic() - started, 2),
                  started_at=round(started_at, 3), answered_at=round(answered_at, 3),
                  msg=("answered as expected" if matched else
                       "no expected answer within %s s; the last: %s%s" % (
                           p["timeout"], answer_view(status, data, p["expect_json"], edge),
                           " (%s)" % answer["msg"] if status == -1 else "")))
    if isinstance(data, dict):
        result["json"] = data
    if edge:
        result["x_edge_region"] = edge
    if not matched and p["fail_on_timeout"]:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
