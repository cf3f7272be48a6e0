"""health_wait against the world's edge (api.lomashwood.com's stand-in): the expected answer ends
the wait; another answer is waited on until the timeout and named; bad values are named before any
request; through a playbook it prints what answers meanwhile, never "FAILED - RETRYING"."""

from __future__ import annotations

import re

import pytest

from .runner import run_module, run_playbook


def health(world, **args):
    return run_module("health_wait", dict(dict(url=world.edge_url() + "/health", poll_interval=0.2), **args))


def test_the_expected_answer_ends_the_wait_at_once(world):
    result = health(world, expect_json={"region": "eu-west-1"}, timeout=10)
    assert (result["matched"], result["status"], result["json"]["region"], result["attempts"]) == (True, 200, "eu-west-1", 1), result
    assert result["x_edge_region"] == "eu-west-1" and not result["changed"] and not result["failed"]


def test_another_answer_is_waited_on_until_the_timeout_and_named(world):
    result = health(world, expect_json={"region": "eu-west-2"}, timeout=1)
    assert result["matched"] is False and not result["failed"], result
    assert result["attempts"] >= 3 and 1 <= result["elapsed_seconds"] < 3
    assert result["msg"] == "no expected answer within 1 s; the last: HTTP 200, region eu-west-1 (edge eu-west-1)"
    failed = health(world, expect_json={"region": "eu-west-2"}, timeout=0, fail_on_timeout=True)
    assert failed["failed"] and failed["attempts"] == 1 and "region eu-west-1" in failed["msg"]


def test_a_status_not_listed_is_not_an_answer(world):
    result = health(world, expect_json={"region": "eu-west-1"}, status_code=[204], timeout=0)
    assert result["matched"] is False and result["msg"].endswith("HTTP 200, region eu-west-1 (edge eu-west-1)")


@pytest.mark.parametrize("args, named", [
    (dict(url="api.lomashwood.com/health"), "url must start with http:// or https://, got 'api.lomashwood.com/health'"),
    (dict(timeout=-1), "timeout must be at least 0, got -1"),
    (dict(poll_interval=0), "poll_interval must be more than 0, got 0.0"),
    (dict(request_timeout=-2), "request_timeout must be more than 0, got -2.0"),
])
def test_bad_values_are_named_before_any_request(world, args, named):
    world.reset_calls()
    result = health(world, **args)
    assert result["failed"] and named in result["msg"], result


def test_in_a_playbook_it_says_what_answers_while_it_waits(world, tmp_path):
    playbook = tmp_path / "wait.yml"
    playbook.write_text("""
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - lomashwood.multiregion.health_wait:
        url: %s/health
        expect_json: {region: eu-west-2}
        timeout: 3
        poll_interval: 0.5
""" % world.edge_url())
    proc = run_playbook(str(playbook), inventory="localhost,")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert re.search(r"^health: 0/1 as expected, pending: \S+/health \(HTTP 200, region eu-west-1 \(edge eu-west-1\)\); 0s so far$",
                     proc.stdout, re.M), proc.stdout
    assert "FAILED - RETRYING" not in proc.stdout
