"""The pure core of k8s_secrets: request, plan, views, patches; apply on a fake API."""

import base64

import pytest

from ansible_collections.lomashwood.multiregion.plugins.module_utils import k8s_secrets as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import BatchError

NS = "lomash-wood"
PASSWORD = "s3cr3t-Pa55"


def b64(text):
    return base64.b64encode(text.encode()).decode()


def api_secret(name, immutable=None, **data):
    obj = {"metadata": {"name": name, "namespace": NS, "resourceVersion": "7"}, "type": "Opaque",
           "data": {k: b64(v) for k, v in data.items()}}
    if immutable is not None:
        obj["immutable"] = immutable
    return obj


def observed(*objs):
    return {o["metadata"]["name"]: core.SecretState.from_api(o) for o in objs}


AUTH = api_secret("auth-db", DB_HOST="old.example", DB_PORT="5432", DB_PASSWORD=PASSWORD)


# ---- observed state ---------------------------------------------------------------------------

def test_from_api_decodes_data_and_reads_immutable():
    s = core.SecretState.from_api(api_secret("x", immutable=True, A="1"))
    assert (s.name, s.data, s.immutable) == ("x", {"A": b"1"}, True)
    assert core.SecretState.from_api({"metadata": {"name": "empty"}}).data == {}  # the API omits empty data


# ---- plan: table-driven -----------------------------------------------------------------------

@pytest.mark.parametrize("case, data, action, keys", [
    ("unchanged", {"DB_HOST": "old.example", "DB_PORT": "5432"}, "none", ()),
    ("one key changed", {"DB_HOST": "new.example", "DB_PORT": "5432"}, "update", ("DB_HOST",)),
    ("new key", {"DB_HOST": "old.example", "DB_NAME": "auth"}, "update", ("DB_NAME",)),
    ("both, sorted", {"DB_PORT": "6432", "DB_HOST": "new.example"}, "update", ("DB_HOST", "DB_PORT")),
    ("an int is its digits", {"DB_PORT": 5432}, "none", ()),
    ("empty string differs from absent", {"DB_EXTRA": ""}, "update", ("DB_EXTRA",)),
])
def test_plan_per_secret(case, data, action, keys):
    wanted = core.requested_secrets([{"name": "auth-db", "data": data}])
    (change,) = core.plan_secrets(wanted, observed(AUTH), NS)
    assert (change.name, change.action, change.keys_changed, change.changed) == ("auth-db", action, keys, bool(keys)), case
    assert set(change.patch) == set(keys)  # only the keys that differ are written
    assert change.as_dict() == {"name": "auth-db", "action": action, "keys_changed": list(keys)}
    assert PASSWORD not in repr(change.as_dict())


def test_a_missing_secret_refuses_the_batch_naming_every_one():
    wanted = core.requested_secrets([{"name": "ghost-db", "data": {"A": "1"}}, {"name": "auth-db", "data": {"A": "1"}},
                                     {"name": "other-db", "data": {"A": "1"}}])
    with pytest.raises(BatchError) as raised:
        core.plan_secrets(wanted, observed(AUTH), NS, "context c1 (https://h)")
    assert raised.value.problems == [
        "no Secret named 'ghost-db' in namespace lomash-wood (context c1 (https://h))",
        "no Secret named 'other-db' in namespace lomash-wood (context c1 (https://h))"]


def test_require_keys_refuses_a_secret_lacking_one_naming_it_and_the_keys():
    bare = api_secret("bare-db", DB_HOST="old.example", DB_USER="")  # an empty value counts as lacking
    wanted = core.requested_secrets([{"name": "auth-db", "data": {}}, {"name": "bare-db", "data": {}}],
                                    require_keys=["DB_USER", "DB_PASSWORD"])
    assert wanted == {"auth-db": {}, "bare-db": {}}  # no data: checked only
    with pytest.raises(BatchError) as raised:
        core.plan_secrets(wanted, observed(AUTH, bare), NS, "ctx", require_keys=["DB_USER", "DB_PASSWORD"])
    assert raised.value.problems == [
        "Secret 'auth-db' in namespace lomash-wood lacks the key(s) DB_USER (ctx)",
        "Secret 'bare-db' in namespace lomash-wood lacks the key(s) DB_USER, DB_PASSWORD (ctx)"]
    # a key given in data counts; all there: nothing to do
    wanted = core.requested_secrets([{"name": "auth-db", "data": {"DB_USER": "auth"}}], require_keys=["DB_USER"])
    (change,) = core.plan_secrets(wanted, observed(AUTH), NS, require_keys=["DB_USER", "DB_PASSWORD"])
    assert (change.action, change.keys_changed) == ("update", ("DB_USER",))
    (change,) = core.plan_secrets(core.requested_secrets([{"name": "auth-db", "data": {}}], require_keys=["DB_HOST"]),
                                  observed(AUTH), NS, require_keys=["DB_HOST"])
    assert change.action == "none"


def test_empty_data_without_require_keys_and_a_bad_required_key_are_named():
    with pytest.raises(BatchError) as raised:
        core.requested_secrets([{"name": "auth-db", "data": {}}])
    assert raised.value.problems == ["auth-db: data is empty: give at least one key"]
    with pytest.raises(BatchError) as raised:
        core.requested_secrets([{"name": "auth-db", "data": {}}], require_keys=["a key"])
    assert raised.value.problems == ["require_keys: 'a key' is not a valid data key (letters, digits, '-', '_' and '.')"]


def test_an_immutable_secret_is_refused_only_when_it_would_change():
    frozen = api_secret("frozen-db", immutable=True, DB_HOST="h")
    same = core.requested_secrets([{"name": "frozen-db", "data": {"DB_HOST": "h"}}])
    assert core.plan_secrets(same, observed(frozen), NS)[0].action == "none"
    other = core.requested_secrets([{"name": "frozen-db", "data": {"DB_HOST": "elsewhere"}}])
    with pytest.raises(BatchError, match="Secret 'frozen-db' in namespace lomash-wood is immutable; its keys DB_HOST"):
        core.plan_secrets(other, observed(frozen), NS)


# ---- request ----------------------------------------------------------------------------------

@pytest.mark.parametrize("secrets, problem", [
    ([], "secrets is empty"),
    ([{"name": "Auth_DB", "data": {"A": "1"}}], "secrets[0]: 'Auth_DB' is not a valid Secret name"),
    ([{"name": "", "data": {"A": "1"}}], "secrets[0]: '' is not a valid Secret name"),
    ([{"name": "a", "data": {}}], "a: data is empty"),
    ([{"name": "a", "data": {"bad key": "1"}}], "a: 'bad key' is not a valid data key"),
    ([{"name": "a", "data": {"A": True}}], "a: A must be a string, got a bool"),
    ([{"name": "a", "data": {"A": ["x"]}}], "a: A must be a string, got a list"),
    ([{"name": "a", "data": {"A": None}}], "a: A must be a string, got a NoneType"),
    ([{"name": "a", "data": {"A": "1"}}, {"name": "a", "data": {"B": "2"}}], "duplicate Secret names: a"),
])
def test_bad_requests_are_named(secrets, problem):
    with pytest.raises(BatchError) as raised:
        core.requested_secrets(secrets)
    assert any(p.startswith(problem) for p in raised.value.problems), raised.value.problems


def test_a_bad_value_is_named_by_its_key_never_shown():
    with pytest.raises(BatchError) as raised:
        core.requested_secrets([{"name": "a", "data": {"PW": {"nested": PASSWORD}}}])
    assert PASSWORD not in str(raised.value)


def test_several_problems_together():
    with pytest.raises(BatchError) as raised:
        core.requested_secrets([{"name": "A", "data": {"x": "1"}}, {"name": "b", "data": {"k k": "1", "ok": 1.5}}])
    assert len(raised.value.problems) == 3


# ---- views, simulate, patch -------------------------------------------------------------------

def test_views_show_key_names_and_markers_only():
    wanted = core.requested_secrets([{"name": "auth-db",
                                      "data": {"DB_HOST": "new.example", "DB_PORT": "5432", "DB_NAME": "auth"}}])
    before = observed(AUTH)["auth-db"]
    (change,) = core.plan_secrets(wanted, observed(AUTH), NS)
    after = core.simulate(change, before)
    assert core.view(change, before) == {"DB_HOST": "(set)", "DB_PORT": "(set)"}
    assert core.view(change, before, after) == {"DB_HOST": "(changed)", "DB_PORT": "(set)", "DB_NAME": "(changed)"}
    assert after.data["DB_PASSWORD"] == PASSWORD.encode()  # the other keys are left alone
    unchanged = core.plan_secrets(core.requested_secrets([{"name": "auth-db", "data": {"DB_PORT": "5432"}}]),
                                  observed(AUTH), NS)[0]
    assert core.view(unchanged, before, core.simulate(unchanged, before)) == core.view(unchanged, before)


def test_merge_patch_carries_only_the_changed_keys_base64():
    wanted = core.requested_secrets([{"name": "auth-db", "data": {"DB_HOST": "new.example", "DB_PORT": "5432"}}])
    (change,) = core.plan_secrets(wanted, observed(AUTH), NS)
    assert core.merge_patch(change) == {"data": {"DB_HOST": b64("new.example")}}


class FakeApi:
    """Secrets in memory; patch_namespaced_secret merges `data` like the API server, or fails by name."""

    def __init__(self, *objs, fail=()):
        self.secrets = {o["metadata"]["name"]: o for o in objs}
        self.fail, self.calls = set(fail), []

    def list_namespaced_secret(self, namespace, limit=None, _continue=None):
        self.calls.append(("list", namespace))
        return {"items": list(self.secrets.values()), "metadata": {}}

    def patch_namespaced_secret(self, name, namespace, body, content_type):
        self.calls.append(("patch", name, content_type))
        if name in self.fail:
            raise RuntimeError("refused")
        obj = self.secrets[name]
        obj["data"] = dict(obj["data"], **body["data"])
        return obj


def test_apply_patches_only_the_changed_secrets_and_reports_failures():
    api = FakeApi(AUTH, api_secret("a-db", X="1"), api_secret("b-db", X="1"), fail=["b-db"])
    seen = core.observe(api, NS)
    wanted = core.requested_secrets([{"name": "auth-db", "data": {"DB_PORT": "5432"}},
                                     {"name": "a-db", "data": {"X": "2"}}, {"name": "b-db", "data": {"X": "2"}}])
    plan = core.plan_secrets(wanted, seen, NS)
    assert [c.action for c in plan] == ["none", "update", "update"]
    written, failures = core.apply_plan(api, NS, plan, max_concurrency=4)
    assert set(written) == {"a-db"} and written["a-db"].data["X"] == b"2"
    assert set(failures) == {"b-db"}
    patches = sorted(c for c in api.calls if c[0] == "patch")
    assert patches == [("patch", "a-db", core.MERGE_PATCH), ("patch", "b-db", core.MERGE_PATCH)]
    # Applied: a second plan finds a-db right; b-db still to do.
    again = core.plan_secrets(wanted, core.observe(api, NS), NS)
    assert [(c.name, c.action) for c in again] == [("auth-db", "none"), ("a-db", "none"), ("b-db", "update")]
