"""k8s_secrets against the real kube-apiserver of the embedded world, through the ansible CLI.

    scripts/in-netns.sh scripts/with-world.sh --k8s -- \
        .venv/bin/python -m pytest -q tests/integration/test_k8s_secrets.py

Writes are counted twice: by the module (api_calls) and by the apiserver's audit log (k8s.calls(),
which counts every client write, failed ones too), so a write the module did not count still shows.
Each test works on Secrets of its own, made here and deleted after.
"""

from __future__ import annotations

import base64
import secrets

import pytest

from .k8s import NS, PRIMARY, STANDBY
from .runner import mutating, run_module, run_playbook

MODULE = "k8s_secrets"
PATCH = "k8s:%s:patch secrets" % STANDBY
NAMES = ["k8s-secrets-test-a", "k8s-secrets-test-b", "k8s-secrets-test-c"]


def b64(text):
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def three(k8s):
    """Three Secrets in eu-west-2 with DB_HOST, DB_PORT and a DB_PASSWORD of their own; deleted after."""
    core = k8s.api(STANDBY)[1]
    for name in NAMES:
        core.create_namespaced_secret(NS, {"metadata": {"name": name}, "type": "Opaque", "data": {
            "DB_HOST": b64("old.%s.example" % name), "DB_PORT": b64("5432"),
            "DB_PASSWORD": b64(secrets.token_urlsafe(18))}})
    k8s.reset_calls()
    yield core
    for name in NAMES:
        core.delete_namespaced_secret(name, NS)


def values(core, name):
    return {k: base64.b64decode(v).decode() for k, v in (core.read_namespaced_secret(name, NS).data or {}).items()}


def versions(core):
    return {s.metadata.name: s.metadata.resource_version for s in core.list_namespaced_secret(NS).items}


def base(k8s, secrets_, **kwargs):
    args = dict(kubeconfig=k8s.kubeconfig, context=k8s.context(), namespace=NS, secrets=secrets_)
    args.update(kwargs)
    return args


def ok(res):
    assert not res.get("failed"), res.get("msg")
    return res


def module_writes(res):
    return {op: n for op, n in res["api_calls"].items() if op.startswith(("create_", "patch_", "replace_", "delete_"))}


def test_check_apply_check_apply(k8s, three):
    core = three
    others = {n: values(core, n)["DB_PASSWORD"] for n in NAMES}
    wanted = [{"name": NAMES[0], "data": {"DB_HOST": "new.a.example", "DB_PORT": "5432"}},  # one key changes
              {"name": NAMES[1], "data": {"DB_HOST": "old.%s.example" % NAMES[1], "DB_PORT": 5432}},  # none
              # (not a one-letter value: Ansible masks every no_log value wherever it appears, names included)
              {"name": NAMES[2], "data": {"DB_HOST": "new.c.example", "DB_PORT": "6432", "DB_NAME": "lomash_c"}}]
    before = versions(core)

    # 1. check mode: the plan, nothing written
    plan = ok(run_module(MODULE, base(k8s, wanted), check=True, diff=True))
    assert plan["changed"] is True
    assert plan["plan"] == [{"name": NAMES[0], "action": "update", "keys_changed": ["DB_HOST"]},
                            {"name": NAMES[1], "action": "none", "keys_changed": []},
                            {"name": NAMES[2], "action": "update", "keys_changed": ["DB_HOST", "DB_NAME", "DB_PORT"]}]
    assert [r["changed"] for r in plan["results"]] == [True, False, True]
    assert plan["results"][2]["after"] == {"DB_HOST": "(changed)", "DB_PORT": "(changed)", "DB_NAME": "(changed)"}
    assert plan["api_calls"] == {"list_namespaced_secret": 1}
    assert mutating(None, k8s.calls()) == {}, k8s.writes()
    assert versions(core) == before
    diff = plan["_stdout"].split("localhost |")[0]
    assert "        %s:\n-            DB_HOST: (set)\n+            DB_HOST: (changed)\n" % NAMES[0] in diff
    assert "+            DB_NAME: (changed)\n" in diff

    # 2. apply: only the two that differ, only their differing keys; the other keys kept
    applied = ok(run_module(MODULE, base(k8s, wanted)))
    assert applied["changed"] is True
    assert [(r["name"], r["action"], r["changed"], r["keys_changed"]) for r in applied["results"]] == [
        (NAMES[0], "update", True, ["DB_HOST"]), (NAMES[1], "none", False, []),
        (NAMES[2], "update", True, ["DB_HOST", "DB_NAME", "DB_PORT"])]
    assert applied["results"][0]["after"] == {"DB_HOST": "(changed)", "DB_PORT": "(set)"}
    assert module_writes(applied) == {"patch_namespaced_secret": 2}
    assert applied["api_calls"] == {"list_namespaced_secret": 1, "patch_namespaced_secret": 2}
    assert mutating(None, k8s.calls()) == {PATCH: 2}, k8s.writes()
    assert values(core, NAMES[0]) == {"DB_HOST": "new.a.example", "DB_PORT": "5432", "DB_PASSWORD": others[NAMES[0]]}
    assert values(core, NAMES[2]) == {"DB_HOST": "new.c.example", "DB_PORT": "6432", "DB_NAME": "lomash_c",
                                      "DB_PASSWORD": others[NAMES[2]]}
    assert versions(core)[NAMES[1]] == before[NAMES[1]]

    # 3. check mode again: nothing to do
    k8s.reset_calls()
    after = versions(core)
    again = ok(run_module(MODULE, base(k8s, wanted), check=True, diff=True))
    assert again["changed"] is False and {r["action"] for r in again["results"]} == {"none"}
    assert mutating(None, k8s.calls()) == {}, k8s.writes()

    # 4. apply again: no change, no write (the audit log agrees), nothing moved
    rerun = ok(run_module(MODULE, base(k8s, wanted)))
    assert rerun["changed"] is False and {r["changed"] for r in rerun["results"]} == {False}
    assert rerun["api_calls"] == {"list_namespaced_secret": 1}
    assert mutating(None, k8s.calls()) == {}, k8s.writes()
    assert versions(core) == after


def test_a_missing_secret_is_refused_by_name_and_nothing_is_written(k8s, three):
    core = three
    before = versions(core)
    res = run_module(MODULE, base(k8s, [{"name": NAMES[0], "data": {"DB_HOST": "new.example"}},
                                        {"name": "ghost-db", "data": {"DB_HOST": "new.example"}}]))
    assert res["failed"] is True
    assert res["msg"].startswith("Refusing to change anything")
    assert res["problems"] == ["no Secret named 'ghost-db' in namespace lomash-wood (context lomash-wood-eu-west-2 (%s))"
                               % k8s.info()["regions"][STANDBY]["server"]]
    assert mutating(None, k8s.calls()) == {}, k8s.writes()
    assert versions(core) == before  # the Secret that exists was not written either


@pytest.mark.parametrize("case, secrets_, needle", [
    ("invalid name", [{"name": "Bad_Name", "data": {"A": "1"}}], "'Bad_Name' is not a valid Secret name"),
    ("invalid key", [{"name": NAMES[0], "data": {"a key": "1"}}], "'a key' is not a valid data key"),
    ("not a string", [{"name": NAMES[0], "data": {"A": ["x"]}}], "k8s-secrets-test-a: A must be a string, got a list"),
    ("duplicate", [{"name": NAMES[0], "data": {"A": "1"}}, {"name": NAMES[0], "data": {"B": "1"}}],
     "duplicate Secret names: k8s-secrets-test-a"),
    ("bad context", None, "context 'lomash-wood-eu-west-9' is not in kubeconfig"),
])
def test_bad_input_is_named_and_nothing_changes(k8s, three, case, secrets_, needle):
    args = base(k8s, secrets_ or [{"name": NAMES[0], "data": {"A": "1"}}])
    if secrets_ is None:
        args["context"] = "lomash-wood-eu-west-9"
    res = run_module(MODULE, args)
    assert res["failed"] is True and needle in res["msg"], res["msg"]
    assert mutating(None, k8s.calls()) == {}, k8s.writes()


def test_the_values_never_reach_the_output_at_vvv_or_in_the_diff(k8s, three):
    core = three
    password = "pw-" + secrets.token_urlsafe(24)  # seeded here, written by the module
    host = "h-" + secrets.token_hex(12) + ".example"
    wanted = [{"name": NAMES[0], "data": {"DB_PASSWORD": password, "DB_HOST": host}}]
    outputs = []
    for check in (True, False, True, False):
        res = ok(run_module(MODULE, base(k8s, wanted), check=check, diff=True, verbosity=3))
        outputs.append(res.pop("_stdout") + repr(res))
    assert values(core, NAMES[0])["DB_PASSWORD"] == password  # it was written
    assert "DB_PASSWORD: (changed)" in outputs[0]  # the key is named, its value is not
    for out in outputs:
        for secret in (password, host):
            assert secret not in out and b64(secret) not in out
            assert base64.b64encode(secret.encode()).decode().rstrip("=") not in out
        assert "k8s-secrets-test-a" in out  # the names are not masked


def test_the_other_region_and_the_seeded_secrets_are_untouched(k8s, three):
    primary = k8s.api(PRIMARY)[1]
    primary_before = {s.metadata.name: s.metadata.resource_version for s in primary.list_namespaced_secret(NS).items}
    ok(run_module(MODULE, base(k8s, [{"name": NAMES[0], "data": {"DB_HOST": "x.example"}}])))
    assert {s.metadata.name: s.metadata.resource_version for s in primary.list_namespaced_secret(NS).items} == primary_before
    assert mutating(None, k8s.calls()) == {PATCH: 1}, k8s.writes()


def test_module_defaults_group_sets_the_connection(k8s, three, tmp_path):
    playbook = tmp_path / "play.yml"
    playbook.write_text("""
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/lomashwood.multiregion.k8s:
      kubeconfig: %s
      context: lomash-wood-eu-west-2
  tasks:
    - lomashwood.multiregion.k8s_secrets:
        secrets:
          - name: %s
            data: {DB_PORT: "6543"}
      register: written
    - ansible.builtin.assert:
        that: written.results[0].keys_changed == ['DB_PORT']
""" % (k8s.kubeconfig, NAMES[1]))
    proc = run_playbook(str(playbook), inventory="localhost,", extra_vars={"ansible_connection": "local"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert values(three, NAMES[1])["DB_PORT"] == "6543"
