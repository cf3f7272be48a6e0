"""eks_scale_services against the real kube-apiservers of the embedded world, through the ansible CLI.

    scripts/in-netns.sh scripts/with-world.sh --k8s --seed -- \
        .venv/bin/python -m pytest -q tests/integration/test_eks_scale_services.py

Every test starts from (and leaves) the seeded world: the nine deployments at 0 in eu-west-2 and
at 3 in eu-west-1, no node simulator hold or delay.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from .k8s import NINE, NS, PRIMARY
from .runner import ROOT, ansible_env, module_command, run_module

MODULE = "eks_scale_services"
CHECKSUM = "multiregion.lomashwood.com/secrets-checksum"


def mutating_calls(api_calls):
    """The writes among the module's own counted calls (by kubernetes client method name)."""
    return {op: n for op, n in api_calls.items() if op.startswith(("create_", "patch_", "replace_", "delete_")) and n}


def base(k8s, **kwargs):
    args = dict(kubeconfig=k8s.kubeconfig, context=k8s.context(), namespace=NS, poll_interval=0.1, wait_timeout=60)
    args.update(kwargs)
    return args


def ok(res):
    assert not res.get("failed"), res.get("msg")
    return res


def test_scales_the_nine_up_at_once_and_all_are_ready(k8s):
    primary_before = k8s.snapshot(PRIMARY)
    res = ok(run_module(MODULE, base(k8s, services=NINE, replicas=3)))
    assert res["changed"] is True
    assert [r["name"] for r in res["results"]] == NINE
    for r in res["results"]:
        assert (r["action"], r["changed"], r["ready"], r["error"]) == ("scale", True, True, None)
        assert r["before"]["replicas"] == 0 and r["before"]["ready_replicas"] == 0
        assert r["after"] == {"replicas": 3, "ready_replicas": 3, "available_replicas": 3, "updated_replicas": 3,
                              "restarted_at": None, "secrets_checksum": None}
        assert 0 < r["seconds"] <= res["elapsed_seconds"]
    # In the cluster (the kubernetes client, not the module's word): 3 ready replicas each, 27 Ready pods.
    deps = k8s.deployments()
    for name in NINE:
        d = deps[name]
        assert (d["replicas"], d["ready"], d["available"], d["updated"], d["status_replicas"]) == (3, 3, 3, 3, 3)
        pods = k8s.pods(name)
        assert len(pods) == 3 and all(pods.values())
    # One scale call each, no other write; one list per poll for the whole batch.
    assert mutating_calls(res["api_calls"]) == {"patch_namespaced_deployment_scale": 9}
    assert res["api_calls"]["list_namespaced_deployment"] <= 2 + res["elapsed_seconds"] / 0.1 + 1
    assert k8s.snapshot(PRIMARY) == primary_before  # the other region untouched


def test_rerun_changes_nothing_and_makes_no_mutating_call(k8s):
    ok(run_module(MODULE, base(k8s, services=NINE, replicas=3)))
    before = k8s.snapshot()
    again = ok(run_module(MODULE, base(k8s, services=NINE, replicas=3)))
    assert again["changed"] is False
    assert {r["action"] for r in again["results"]} == {"none"}
    assert {r["changed"] for r in again["results"]} == {False}
    assert mutating_calls(again["api_calls"]) == {}
    assert again["api_calls"] == {"list_namespaced_deployment": 1}
    assert k8s.snapshot() == before  # same spec.replicas and resourceVersion: nothing was written


def test_check_mode_returns_the_plan_and_changes_nothing(k8s):
    before = k8s.snapshot()
    res = ok(run_module(MODULE, base(k8s, services=NINE, replicas=3), check=True, diff=True))
    assert res["changed"] is True
    assert res["plan"] == [{"name": n, "action": "scale", "before": 0, "after": 3} for n in NINE]
    assert {r["after"]["replicas"] for r in res["results"]} == {3}
    assert {r["ready"] for r in res["results"]} == {False}
    assert mutating_calls(res["api_calls"]) == {}
    assert k8s.snapshot() == before
    # --diff: replicas before and after, for each deployment
    diff = res["_stdout"].split("localhost |")[0]
    assert diff.count("-            replicas: 0") == 9 and diff.count("+            replicas: 3") == 9
    assert "        auth-service:\n-            replicas: 0\n+            replicas: 3\n" in diff
    # Check mode when there is nothing to do: no change either.
    ok(run_module(MODULE, base(k8s, services=NINE, replicas=3)))
    again = ok(run_module(MODULE, base(k8s, services=NINE, replicas=3), check=True))
    assert again["changed"] is False and {r["action"] for r in again["results"]} == {"none"}


def test_mapping_gives_each_deployment_its_own_size(k8s):
    res = ok(run_module(MODULE, base(k8s, services={"api-gateway": 4, "auth-service": 2, "analytics-service": 0})))
    assert [(r["name"], r["action"]) for r in res["results"]] == [
        ("api-gateway", "scale"), ("auth-service", "scale"), ("analytics-service", "none")]
    assert res["changed"] is True
    deps = k8s.deployments()
    assert (deps["api-gateway"]["ready"], deps["auth-service"]["ready"]) == (4, 2)
    assert {deps[n]["replicas"] for n in NINE if n not in ("api-gateway", "auth-service")} == {0}


def test_scale_back_to_zero_waits_until_every_pod_is_gone(k8s):
    ok(run_module(MODULE, base(k8s, services=NINE, replicas=3)))
    res = ok(run_module(MODULE, base(k8s, services=NINE, replicas=0)))
    assert {r["action"] for r in res["results"]} == {"scale"}
    for name in NINE:
        assert k8s.pods(name) == {}
        assert k8s.deployments()[name]["status_replicas"] == 0


def test_restart_always_replaces_the_pods_of_the_named_deployments_only(k8s):
    ok(run_module(MODULE, base(k8s, services=NINE, replicas=2)))
    pods_before = {n: set(k8s.pods(n)) for n in NINE}
    before = k8s.snapshot()
    restarted = ["auth-service", "api-gateway"]
    res = ok(run_module(MODULE, base(k8s, services=restarted, restart="always")))
    assert res["changed"] is True
    assert [(r["name"], r["action"], r["changed"]) for r in res["results"]] == [(n, "restart", True) for n in restarted]
    stamp = res["results"][0]["after"]["restarted_at"]
    assert stamp and res["results"][0]["before"]["restarted_at"] is None
    assert mutating_calls(res["api_calls"]) == {"patch_namespaced_deployment": 2}
    deps = k8s.deployments()
    for name in restarted:
        now = k8s.pods(name)
        assert len(now) == 2 and all(now.values())
        assert not set(now) & pods_before[name], "%s still runs pods from before the restart" % name
        assert deps[name]["annotations"]["kubectl.kubernetes.io/restartedAt"] == stamp
        assert deps[name]["status_replicas"] == 2  # the old ReplicaSet's pods are gone
    for name in set(NINE) - set(restarted):
        assert set(k8s.pods(name)) == pods_before[name]
        assert k8s.snapshot()[name] == before[name]
    # always is `kubectl rollout restart`: every run restarts again.
    again = ok(run_module(MODULE, base(k8s, services=restarted, restart="always")))
    assert again["changed"] is True and mutating_calls(again["api_calls"]) == {"patch_namespaced_deployment": 2}


def _set_secret(k8s, name, **values):
    import base64
    core = k8s.api()[1]
    core.patch_namespaced_secret(name, NS, {"data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}})


def test_restart_on_secret_change_restarts_once_per_content(k8s):
    two = ["auth-service", "order-payment-service"]
    ok(run_module(MODULE, base(k8s, services=two, replicas=2)))
    # Running pods that never had a digest: their content is unknown, so they restart onto it.
    first = ok(run_module(MODULE, base(k8s, services=two, restart="on_secret_change")))
    assert [r["action"] for r in first["results"]] == ["restart", "restart"]
    assert mutating_calls(first["api_calls"]) == {"patch_namespaced_deployment": 2}
    assert first["api_calls"]["list_namespaced_secret"] == 1  # one list serves every deployment
    digests = {n: k8s.deployments()[n]["annotations"][CHECKSUM] for n in two}
    assert all(len(d) == 64 for d in digests.values()) and digests["auth-service"] != digests["order-payment-service"]
    pods = {n: set(k8s.pods(n)) for n in two}
    # A rerun: same content, no restart, no write.
    rerun = ok(run_module(MODULE, base(k8s, services=two, restart="on_secret_change")))
    assert rerun["changed"] is False and mutating_calls(rerun["api_calls"]) == {}
    assert {n: set(k8s.pods(n)) for n in two} == pods
    # New content in one Secret (a new failover's endpoint): only its deployment restarts.
    _set_secret(k8s, "order-payment-service-db", DB_HOST="lomash-orders-prod-replica.new.eu-west-2.rds.amazonaws.com")
    res = ok(run_module(MODULE, base(k8s, services=two, restart="on_secret_change"), diff=True))
    assert [(r["name"], r["action"], r["changed"]) for r in res["results"]] == [
        ("auth-service", "none", False), ("order-payment-service", "restart", True)]
    assert mutating_calls(res["api_calls"]) == {"patch_namespaced_deployment": 1}
    assert set(k8s.pods("auth-service")) == pods["auth-service"]
    assert not set(k8s.pods("order-payment-service")) & pods["order-payment-service"]
    new = k8s.deployments()["order-payment-service"]["annotations"][CHECKSUM]
    assert new != digests["order-payment-service"]
    assert "-            secrets_checksum: %s\n" % digests["order-payment-service"] in res["_stdout"]
    assert "+            secrets_checksum: %s\n" % new in res["_stdout"]


def test_a_deployment_scaled_from_zero_starts_with_the_digest_and_needs_no_restart(k8s):
    generations = {n: d["generation"] for n, d in k8s.deployments().items()}
    res = ok(run_module(MODULE, base(k8s, services=NINE, replicas=3, restart="on_secret_change")))
    assert {r["action"] for r in res["results"]} == {"scale-and-restart"}
    assert mutating_calls(res["api_calls"]) == {"patch_namespaced_deployment": 9}  # one write each, scale and digest
    assert k8s.rolled_out(NINE, 3)
    deps = k8s.deployments()
    assert {n: deps[n]["generation"] for n in NINE} == {n: generations[n] + 1 for n in NINE}  # one write: one rollout
    again = ok(run_module(MODULE, base(k8s, services=NINE, replicas=3, restart="on_secret_change")))
    assert again["changed"] is False and again["api_calls"] == {"list_namespaced_deployment": 1, "list_namespaced_secret": 1}


def test_secrets_read_through_env_and_volumes_count_and_a_missing_one_is_named(k8s):
    apps, core = k8s.api()
    core.create_namespaced_secret(NS, {"metadata": {"name": "gateway-tls"}, "stringData": {"tls.crt": "one"}})
    core.create_namespaced_secret(NS, {"metadata": {"name": "gateway-token"}, "stringData": {"token": "t1"}})
    try:
        apps.patch_namespaced_deployment("api-gateway", NS, {"spec": {"template": {"spec": {
            "containers": [{"name": "api-gateway", "env": [
                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "gateway-token", "key": "token"}}}]}],
            "volumes": [{"name": "tls", "secret": {"secretName": "gateway-tls"}}]}}}})
        ok(run_module(MODULE, base(k8s, services=["api-gateway"], replicas=1, restart="on_secret_change")))
        for secret, change in (("gateway-tls", {"tls.crt": "two"}), ("gateway-token", {"token": "t2"})):
            _set_secret(k8s, secret, **change)
            res = ok(run_module(MODULE, base(k8s, services=["api-gateway"], restart="on_secret_change")))
            assert res["results"][0]["action"] == "restart", secret
        core.delete_namespaced_secret("gateway-token", NS)
        before = k8s.snapshot()
        res = run_module(MODULE, base(k8s, services=["api-gateway"], restart="on_secret_change"))
        assert res["failed"] and "api-gateway reads Secret 'gateway-token', which is not in namespace lomash-wood" in res["msg"]
        assert k8s.snapshot() == before
    finally:
        for name in ("gateway-tls", "gateway-token"):
            try:
                core.delete_namespaced_secret(name, NS)
            except Exception:  # pylint: disable=broad-except
                pass
        apps.patch_namespaced_deployment("api-gateway", NS, [
            {"op": "remove", "path": "/spec/template/spec/volumes"},
            {"op": "remove", "path": "/spec/template/spec/containers/0/env"}], _content_type="application/json-patch+json")


def test_no_secret_value_reaches_the_output(k8s):
    import base64
    password = base64.b64decode(k8s.api()[1].read_namespaced_secret("auth-service-db", NS).data["DB_PASSWORD"]).decode()
    res = ok(run_module(MODULE, base(k8s, services=["auth-service"], replicas=1, restart="on_secret_change"),
                        diff=True, verbosity=3))
    assert password not in res["_stdout"] and base64.b64encode(password.encode()).decode() not in res["_stdout"]


def test_scale_and_restart_together(k8s):
    res = ok(run_module(MODULE, base(k8s, services=["auth-service"], replicas=3, restart="always"), diff=True))
    r = res["results"][0]
    assert (r["action"], r["after"]["replicas"], r["ready"]) == ("scale-and-restart", 3, True)
    assert "-            restarted_at: null\n" in res["_stdout"]
    assert "+            restarted_at: '%s'\n" % r["after"]["restarted_at"] in res["_stdout"]
    assert mutating_calls(res["api_calls"]) == {"patch_namespaced_deployment": 1}


@pytest.mark.parametrize("case, args, needle", [
    ("unknown deployment", {"services": ["auth-service", "ghost-service"], "replicas": 3},
     "no deployment named 'ghost-service' in namespace lomash-wood (context lomash-wood-eu-west-2"),
    ("unknown namespace", {"services": ["auth-service"], "replicas": 3, "namespace": "lomash-wud"},
     "namespace 'lomash-wud' does not exist (context lomash-wood-eu-west-2"),
    ("bad context", {"services": ["auth-service"], "replicas": 3, "context": "lomash-wood-eu-west-9"},
     "context 'lomash-wood-eu-west-9' is not in kubeconfig "),
    ("negative replicas", {"services": NINE, "replicas": -1}, "replicas must be >= 0, got -1"),
    ("negative in a mapping", {"services": {"auth-service": 3, "api-gateway": -3}},
     "api-gateway: replicas must be >= 0, got -3"),
    ("not a number", {"services": {"auth-service": "three"}}, "auth-service: replicas must be an integer, got 'three'"),
    ("invalid name", {"services": ["auth-service", "Order_Payment"], "replicas": 3},
     "'Order_Payment' is not a valid deployment name (DNS-1123"),
    ("duplicate", {"services": NINE + ["api-gateway"], "replicas": 3}, "duplicate deployment names: api-gateway"),
    ("empty", {"services": [], "replicas": 3}, "services is empty"),
    ("no size", {"services": ["auth-service"]}, "replicas is required with a list of services"),
    ("invalid namespace", {"services": ["auth-service"], "replicas": 3, "namespace": "Lomash_Wood"},
     "'Lomash_Wood' is not a valid namespace name"),
    ("unknown deployment, with restart", {"services": ["auth-service", "ghost"], "restart": "on_secret_change"},
     "no deployment named 'ghost' in namespace lomash-wood"),
])
def test_bad_input_is_named_and_nothing_changes(k8s, case, args, needle):
    before = k8s.snapshot()
    res = run_module(MODULE, base(k8s, **args))
    assert res.get("failed") is True, res
    assert needle in res["msg"], res["msg"]
    assert res["msg"].startswith("Refusing to change anything")
    assert mutating_calls(res.get("api_calls", {})) == {}
    assert k8s.snapshot() == before


def test_a_bad_restart_mode_is_named(k8s):
    res = run_module(MODULE, base(k8s, services=["auth-service"], restart="sometimes"))
    assert res["failed"] and "restart must be one of: never, always, on_secret_change, got: sometimes" in res["msg"]


def test_unreachable_context_is_named_and_nothing_changes(k8s, tmp_path):
    path, port = k8s.kubeconfig_with_dead_context(str(tmp_path / "kubeconfig"))
    started = time.monotonic()
    res = run_module(MODULE, base(k8s, kubeconfig=path, context="lomash-wood-eu-west-3", services=NINE, replicas=3))
    assert res.get("failed") is True
    assert ("cannot reach the Kubernetes API of context lomash-wood-eu-west-3 (https://127.0.0.1:%d)" % port) in res["msg"]
    assert "Connection refused" in res["msg"]
    assert time.monotonic() - started < 20  # a few quick connection retries, not a hang
    assert {k8s.snapshot()[n][0] for n in NINE} == {0}


def test_several_problems_are_reported_together(k8s):
    res = run_module(MODULE, base(k8s, services=["ghost-a", "auth-service", "ghost-b"], replicas=3))
    assert res.get("failed") is True
    assert len(res["problems"]) == 2
    for problem, name in zip(res["problems"], ("ghost-a", "ghost-b")):
        assert problem.startswith("no deployment named '%s' in namespace lomash-wood (context lomash-wood-eu-west-2" % name)
    assert k8s.deployments()["auth-service"]["replicas"] == 0  # the valid one was not scaled either


def test_timeout_names_the_held_deployment_as_pending(k8s):
    k8s.knobs(hold=["lomash-wood/order-payment-service"])
    res = run_module(MODULE, base(k8s, services=NINE, replicas=3, wait_timeout=4, poll_interval=0.2))
    assert res.get("failed") is True
    assert res["pending"] == ["order-payment-service"]
    assert sorted(res["done"]) == sorted(set(NINE) - {"order-payment-service"})
    assert "Timed out after" in res["msg"] and "waiting for 1 of 9 deployment(s)" in res["msg"]
    assert "order-payment-service (ready 0/3, available 0/3, updated 3/3" in res["msg"]
    assert "done: analytics-service, api-gateway, appointment-service" in res["msg"]
    held = [r for r in res["results"] if r["name"] == "order-payment-service"][0]
    assert (held["ready"], held["seconds"], held["after"]["ready_replicas"]) == (False, None, 0)
    # Released, a rerun finishes without writing again.
    k8s.knobs(hold=[])
    again = ok(run_module(MODULE, base(k8s, services=NINE, replicas=3)))
    assert again["changed"] is False and mutating_calls(again["api_calls"]) == {}
    assert [r["action"] for r in again["results"] if r["name"] == "order-payment-service"] in (["wait"], ["none"])
    assert k8s.rolled_out(NINE, 3)


def _kill_when(k8s, args, condition, what):
    cmd = module_command(MODULE, args)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ansible_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        k8s.wait_until(condition, timeout=60, what=what)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole ansible process tree, mid-rollout
        proc.wait()


def test_run_killed_mid_rollout_is_finished_by_the_next_run(k8s):
    k8s.knobs(pod_start_delay=6)  # long enough for the rerun to find the rollouts still going
    _kill_when(k8s, base(k8s, services=NINE, replicas=3),
               lambda: {d["replicas"] for d in k8s.deployments().values()} == {3}, "all nine scaled")
    assert not k8s.rolled_out(NINE, 3)  # killed before the pods were ready
    res = ok(run_module(MODULE, base(k8s, services=NINE, replicas=3)))
    assert res["changed"] is False
    assert {r["action"] for r in res["results"]} <= {"wait", "none"} and "wait" in {r["action"] for r in res["results"]}
    assert mutating_calls(res["api_calls"]) == {}  # nothing written twice
    assert {r["ready"] for r in res["results"]} == {True}
    assert k8s.rolled_out(NINE, 3)


def test_restart_killed_mid_rollout_is_not_restarted_again(k8s):
    ok(run_module(MODULE, base(k8s, services=NINE[:3], replicas=2)))
    k8s.knobs(pod_start_delay=6)
    _kill_when(k8s, base(k8s, services=NINE[:3], restart="on_secret_change"),
               lambda: all(CHECKSUM in k8s.deployments()[n]["annotations"] for n in NINE[:3]),
               "the three restarted")
    stamps = {n: k8s.deployments()[n]["annotations"]["kubectl.kubernetes.io/restartedAt"] for n in NINE[:3]}
    res = ok(run_module(MODULE, base(k8s, services=NINE[:3], restart="on_secret_change")))
    assert res["changed"] is False and mutating_calls(res["api_calls"]) == {}
    assert {r["action"] for r in res["results"]} <= {"wait", "none"}
    assert {n: k8s.deployments()[n]["annotations"]["kubectl.kubernetes.io/restartedAt"] for n in NINE[:3]} == stamps
    assert k8s.rolled_out(NINE[:3], 2)


def test_no_wait_returns_after_the_writes(k8s):
    k8s.knobs(pod_start_delay=3)
    res = ok(run_module(MODULE, base(k8s, services=NINE, replicas=3, wait=False)))
    assert res["changed"] is True and {r["seconds"] for r in res["results"]} == {None}
    assert res["elapsed_seconds"] < 2.5
    assert {k8s.snapshot()[n][0] for n in NINE} == {3}


def test_token_and_host_options_and_no_secret_in_verbose_output(k8s):
    region = k8s.info()["regions"]["eu-west-2"]
    args = dict(host=region["server"], api_key=region["token"], ca_cert=region["ca_file"], namespace=NS,
                services=["api-gateway"], replicas=1, poll_interval=0.1)
    res = ok(run_module(MODULE, args, verbosity=3))
    assert res["target"] == region["server"]
    assert k8s.deployments()["api-gateway"]["ready"] == 1
    assert region["token"] not in res["_stdout"]


def test_module_defaults_group_sets_the_connection_once(k8s, tmp_path):
    playbook = tmp_path / "play.yml"
    playbook.write_text("""
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/lomashwood.multiregion.k8s:
      kubeconfig: %s
      context: lomash-wood-eu-west-2
  tasks:
    - lomashwood.multiregion.eks_scale_services:
        services: [auth-service]
        replicas: 1
        poll_interval: 0.1
    - kubernetes.core.k8s_info:
        kind: Deployment
        namespace: lomash-wood
        name: auth-service
      register: info
    - ansible.builtin.assert:
        that: info.resources[0].status.readyReplicas == 1
""" % k8s.kubeconfig)
    from .runner import run_playbook
    proc = run_playbook(str(playbook), inventory="localhost,", extra_vars={"ansible_connection": "local"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
