"""The stripe_webhook role (runbook step 5) against a local stand-in of Stripe's two endpoints."""

from __future__ import annotations

import secrets

import pytest

from tests.world.stripe import start_stripe

from .runner import run_playbook

GLOBAL = "https://api.lomashwood.com/v1/webhooks/stripe"
REGIONAL = "https://api-eu-west-2.lomashwood.com/v1/webhooks/stripe"
PLAY = """
- hosts: dr_controller
  gather_facts: false
  tasks:
    - ansible.builtin.import_role:
        name: lomashwood.multiregion.stripe_webhook
    - ansible.builtin.copy:
        content: "{{ dr_steps | to_nice_json }}"
        dest: "{{ out }}"
        mode: "0644"
"""


@pytest.fixture
def stripe():
    key = "sk_test_" + secrets.token_hex(12)
    server = start_stripe(key, ["https://other.example.org/hook", GLOBAL])
    server.key = key
    yield server
    server.stop()


def run(tmp_path, stripe, check=False, verbosity=0, **extra):
    play = tmp_path / "stripe.yml"
    play.write_text(PLAY)
    out = tmp_path / "steps.json"
    proc = run_playbook(str(play), check=check, verbosity=verbosity, env={"STRIPE_API_KEY": stripe.key},
                        extra_vars=dict(dict(dr_stripe_api_base=stripe.url, out=str(out)), **extra))
    return proc, out


def test_global_domain_makes_no_call(stripe, tmp_path):
    proc, out = run(tmp_path, stripe)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "no change: the webhook uses the global domain " + GLOBAL in proc.stdout
    assert stripe.calls == []


def test_region_url_updates_the_endpoint_once(stripe, tmp_path):
    proc, out = run(tmp_path, stripe, dr_stripe_region_webhook_url=REGIONAL)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert stripe.calls == [("GET", "/v1/webhook_endpoints"), ("POST", "/v1/webhook_endpoints/we_0002")]
    assert [e["url"] for e in stripe.endpoints] == ["https://other.example.org/hook", REGIONAL]
    assert '"outcome": "changed"' in out.read_text()
    stripe.calls.clear()
    again, out = run(tmp_path, stripe, dr_stripe_region_webhook_url=REGIONAL)
    assert again.returncode == 0 and stripe.calls == [("GET", "/v1/webhook_endpoints")]
    assert '"outcome": "ok"' in out.read_text() and "the webhook already points at " + REGIONAL in again.stdout


def test_check_mode_only_reads(stripe, tmp_path):
    proc, _out = run(tmp_path, stripe, check=True, dr_stripe_region_webhook_url=REGIONAL)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "would set the webhook to " + REGIONAL in proc.stdout
    assert stripe.calls == [("GET", "/v1/webhook_endpoints")] and stripe.endpoints[1]["url"] == GLOBAL


@pytest.mark.parametrize("extra, needle", [
    ({"dr_stripe_api_key": "sk_test_wrong"}, "Stripe answered HTTP 401 to GET"),
    ({"dr_stripe_webhook_url": "https://elsewhere.example.org/hook"},
     "No Stripe webhook endpoint has the URL https://elsewhere.example.org/hook or " + REGIONAL),
    ({"dr_stripe_api_key": ""}, "no Stripe API key is configured"),
])
def test_failures_name_what_was_looked_for(stripe, tmp_path, extra, needle):
    env_key = stripe.key
    if extra.get("dr_stripe_api_key") == "":
        stripe.key = ""
    proc, _out = run(tmp_path, stripe, dr_stripe_region_webhook_url=REGIONAL, **extra)
    stripe.key = env_key
    assert proc.returncode != 0 and needle in proc.stdout, proc.stdout[-2000:]
    assert stripe.endpoints[1]["url"] == GLOBAL


def test_the_api_key_never_reaches_the_output(stripe, tmp_path):
    proc, out = run(tmp_path, stripe, verbosity=4, dr_stripe_region_webhook_url=REGIONAL)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert stripe.key not in proc.stdout + proc.stderr
    assert stripe.key not in out.read_text()
