"""The declare role (runbook step 2) against a local stand-in of a Slack incoming webhook."""

from __future__ import annotations

import json
import os

import pytest

from tests.world.slack import start_slack

from .runner import ROOT, run_playbook

PLAY = os.path.join(ROOT, "tests", "integration", "playbooks", "declare.yml")
FIELDS = dict(dr_incident_id="INC-2041", dr_reason="eu-west-1 outage", dr_owner="alice",
              dr_declare_eta_minutes=25, dr_outcome="succeeded", dr_achieved_rto_seconds=754.3)


@pytest.fixture
def slack():
    server = start_slack()
    yield server
    server.stop()


def run(tmp_path, webhook_url="", check=False, verbosity=0, env=None, **extra):
    out = tmp_path / "declared.json"
    extra_vars = dict(FIELDS, out=str(out), **extra)
    proc = run_playbook(PLAY, check=check, verbosity=verbosity, env=dict({"SLACK_WEBHOOK_URL": webhook_url}, **(env or {})),
                        extra_vars=extra_vars)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return proc, json.loads(out.read_text())


def test_both_messages_reach_incidents_with_their_fields(slack, tmp_path):
    proc, facts = run(tmp_path, slack.webhook_url)
    assert len(slack.messages) == 2
    start, end = slack.messages
    lines = start["text"].splitlines()
    assert lines[0] == "REGIONAL FAILOVER INITIATED — eu-west-1 → eu-west-2"
    assert lines[1:3] == ["Reason: eu-west-1 outage", "Owner: alice"]
    assert lines[3].startswith("ETA: 25 min (by ") and lines[3].endswith(" UTC)")
    assert lines[4] == "Incident: INC-2041"
    assert (start["channel"], start["username"]) == ("#incidents", "lomashwood-dr")
    assert end["text"].splitlines() == ["REGIONAL FAILOVER ENDED — eu-west-1 → eu-west-2", "Outcome: succeeded",
                                        "Achieved RTO: 12 min 34 s (754.3 s)", "Owner: alice", "Incident: INC-2041"]
    declared = facts["declared"]
    assert (declared["status"], declared["declared"], declared["channel"]) == ("sent", "slack #incidents", "#incidents")
    assert declared["text"] == start["text"] and declared["sent"].endswith("Z")
    assert facts["finish"]["status"] == "sent" and facts["finish"]["text"] == end["text"]
    assert [(s["step"], s["outcome"]) for s in facts["steps"]] == [("declare", "ok")]
    assert "Declared in #incidents at " in proc.stdout


def test_a_failback_is_announced_the_other_way_and_markup_is_escaped(slack, tmp_path):
    _proc, _facts = run(tmp_path, slack.webhook_url, dr_operation="failback", dr_reason="eu-west-1 back <ok> & tested",
                        dr_achieved_rto_seconds=None)
    start, end = slack.messages
    assert start["text"].startswith("REGIONAL FAILBACK INITIATED — eu-west-2 → eu-west-1\n")
    assert "Reason: eu-west-1 back &lt;ok&gt; &amp; tested" in start["text"]
    assert "Achieved RTO: not reached" in end["text"]


def test_without_a_webhook_the_run_is_the_record(slack, tmp_path):
    proc, facts = run(tmp_path)
    assert slack.posts == 0
    assert "No Slack webhook configured (dr_slack_webhook_url): this run itself" in proc.stdout
    assert "REGIONAL FAILOVER INITIATED — eu-west-1 → eu-west-2" in proc.stdout
    assert facts["declared"]["declared"] == "none (no webhook)" and facts["declared"]["sent"] is None
    assert facts["finish"]["declared"] == "none (no webhook)"
    assert [(s["step"], s["outcome"]) for s in facts["steps"]] == [("declare", "skipped")]


def test_check_mode_sends_nothing(slack, tmp_path):
    proc, facts = run(tmp_path, slack.webhook_url, check=True)
    assert slack.posts == 0
    assert "Check mode: would post to #incidents" in proc.stdout
    assert facts["declared"]["declared"] == "none (check mode: not sent)"


@pytest.mark.parametrize("how", ["slack down", "wrong path", "nothing listening"])
def test_a_failed_post_does_not_stop_the_run(slack, tmp_path, how):
    url = slack.webhook_url
    if how == "slack down":
        slack.fail_status = 500
    elif how == "wrong path":
        url = slack.url + "/services/T0/B0/revoked-" + url.rsplit("/", 1)[-1]
    else:
        slack.stop()
        url = url.replace(slack.url, "http://127.0.0.1:9")  # the discard port: refused
    proc, facts = run(tmp_path, url)
    assert slack.messages == []
    assert "the failover runs here" in proc.stdout  # the play went on past the failed post
    assert "The Slack post FAILED" in proc.stdout and "the run carries on" in proc.stdout
    declared = facts["declared"]
    assert declared["status"] == "failed" and declared["sent"] is None
    expected = {"slack down": 500, "wrong path": 404, "nothing listening": -1}[how]
    assert declared["declared"] == "failed: Slack answered HTTP %d" % expected
    assert [(s["step"], s["outcome"]) for s in facts["steps"]] == [("declare", "failed")]
    assert facts["finish"]["status"] == "failed"
    assert url.rsplit("/", 1)[-1] not in proc.stdout + proc.stderr + json.dumps(facts)
    if how == "slack down":
        slack.fail_status = None  # stop() in the fixture


@pytest.mark.parametrize("env_or_var", ["env", "extra_var"])
def test_the_webhook_url_never_reaches_the_output(slack, tmp_path, env_or_var):
    secret = slack.webhook_url.rsplit("/", 1)[-1]
    if env_or_var == "env":
        proc, facts = run(tmp_path, slack.webhook_url, verbosity=3)
    else:
        proc, facts = run(tmp_path, verbosity=3, dr_slack_webhook_url=slack.webhook_url)
    assert len(slack.messages) == 2  # it was used...
    output = proc.stdout + proc.stderr + json.dumps(facts)
    assert secret not in output and slack.path not in output  # ...and never shown
    assert "/services/" not in output
