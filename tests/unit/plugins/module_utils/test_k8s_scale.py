"""The pure core of eks_scale_services: request, readiness, plan, patches; apply and wait on fakes."""

from datetime import datetime, timezone

import pytest

from ansible_collections.lomashwood.multiregion.plugins.module_utils import k8s_scale as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import BatchError, BatchTimeout, wait_for_batch

NS = "lomash-wood"


def dep(name="auth-service", replicas=3, generation=2, observed=None, status_replicas=None, updated=None, ready=None,
        available=None, unavailable=0, annotations=None, secrets=None):
    """A Deployment; status fields default to 'rolled out at replicas'."""
    n = replicas
    return core.Deployment(
        name, replicas, generation, generation if observed is None else observed,
        n if status_replicas is None else status_replicas, n if updated is None else updated,
        n if ready is None else ready, n if available is None else available, unavailable, annotations or {},
        secret_refs=secrets or {})


def api_obj(name="auth-service", replicas=3, status=None, generation=4, annotations=None, conditions=None):
    obj = {"metadata": {"name": name, "namespace": NS, "generation": generation, "resourceVersion": "77"},
           "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app": name}}}},
           "status": dict(status or {})}
    if annotations is not None:
        obj["spec"]["template"]["metadata"]["annotations"] = annotations
    if conditions is not None:
        obj["status"]["conditions"] = conditions
    return obj


# ---- observed state ---------------------------------------------------------------------------

def test_from_api_reads_a_rolled_out_deployment():
    d = core.Deployment.from_api(api_obj(status={"observedGeneration": 4, "replicas": 3, "updatedReplicas": 3,
                                                 "readyReplicas": 3, "availableReplicas": 3},
                                         annotations={core.RESTARTED_AT: "t", core.SECRETS_CHECKSUM: "k"},
                                         conditions=[{"type": "Available", "status": "True"},
                                                     {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]))
    assert (d.name, d.replicas, d.generation, d.observed_generation) == ("auth-service", 3, 4, 4)
    assert (d.status_replicas, d.updated, d.ready, d.available, d.unavailable) == (3, 3, 3, 3, 0)
    assert (d.restarted_at, d.secrets_checksum, d.progress_reason) == ("t", "k", "NewReplicaSetAvailable")
    assert core.rolled_out(d)


def test_from_api_at_zero_has_no_status_counts():
    # The API omits zero counts (and a new deployment has no status at all).
    d = core.Deployment.from_api(api_obj(replicas=0, status={"observedGeneration": 4}))
    assert (d.status_replicas, d.updated, d.ready, d.available) == (0, 0, 0, 0)
    assert d.annotations == {} and d.restarted_at is None
    assert core.rolled_out(d)
    assert not core.rolled_out(core.Deployment.from_api(api_obj(replicas=0, status={})))  # not yet observed


@pytest.mark.parametrize("case, deployment, replicas, expected", [
    ("rolled out", dep(), None, True),
    ("rolled out at the asked size", dep(), 3, True),
    ("spec not yet the asked size", dep(replicas=0), 3, False),
    ("observedGeneration lags (scale not yet seen)", dep(observed=1), None, False),
    ("observedGeneration ahead is fine", dep(observed=3), None, True),
    ("pods not ready yet", dep(ready=1, available=1), None, False),
    ("ready but not yet available (minReadySeconds)", dep(available=2), None, False),
    ("restart pending: new ReplicaSet not updated", dep(updated=1), None, False),
    ("restart: old pods still running", dep(status_replicas=4), None, False),
    ("unavailable replicas reported", dep(unavailable=1), None, False),
    ("scaled to 0, pods still reported", dep(replicas=0, status_replicas=3, updated=0, ready=3, available=3), None, False),
    ("scaled to 0, all gone", dep(replicas=0), 0, True),
    ("not found", None, 3, False),
])
def test_rolled_out(case, deployment, replicas, expected):
    assert core.rolled_out(deployment, replicas) is expected, case


@pytest.mark.parametrize("deployment, text", [
    (dep(ready=1, available=1), "ready 1/3, available 1/3, updated 3/3"),
    (dep(observed=1, ready=0, available=0, updated=0), "ready 0/3, available 0/3, updated 0/3, change not yet observed"),
    (dep(status_replicas=5), "ready 3/3, available 3/3, updated 3/3, 2 old pod(s) still running"),
    (None, "not found"),
])
def test_progress_says_how_far(deployment, text):
    assert core.progress(deployment).startswith(text)


def test_progress_names_a_stuck_rollout():
    d = core.Deployment.from_api(api_obj(status={"observedGeneration": 4, "replicas": 3, "updatedReplicas": 3},
                                         conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]))
    assert core.progress(d) == "ready 0/3, available 0/3, updated 3/3, ProgressDeadlineExceeded"


# ---- request ----------------------------------------------------------------------------------

@pytest.mark.parametrize("services, replicas, restart, expected", [
    (["auth-service", "api-gateway"], 3, False, {"auth-service": 3, "api-gateway": 3}),
    (["auth-service"], 0, False, {"auth-service": 0}),
    (["auth-service"], "2", False, {"auth-service": 2}),
    ({"auth-service": 3, "api-gateway": 4}, None, False, {"auth-service": 3, "api-gateway": 4}),
    ({"auth-service": "1"}, None, False, {"auth-service": 1}),
    (["auth-service"], None, True, {"auth-service": None}),  # restart only: keep the size
    ({"auth-service": None}, None, True, {"auth-service": None}),
    (["svc.v2"], 1, False, {"svc.v2": 1}),
])
def test_requested_replicas_accepts(services, replicas, restart, expected):
    got = core.requested_replicas(services, replicas, restart)
    assert got == expected and list(got) == list(expected)  # request order kept


@pytest.mark.parametrize("services, replicas, named", [
    ([], 3, "services is empty"),
    ({}, None, "services is empty"),
    ("auth-service", 3, "services must be a list of deployment names or a mapping"),
    (["auth-service"], -1, "replicas must be >= 0, got -1"),
    (["auth-service"], None, "replicas is required with a list of services"),
    ({"auth-service": -2, "api-gateway": 3}, None, "auth-service: replicas must be >= 0, got -2"),
    ({"auth-service": "three"}, None, "auth-service: replicas must be an integer, got 'three'"),
    ({"auth-service": True}, None, "auth-service: replicas must be an integer, got True"),
    ({"auth-service": None}, None, "auth-service: replicas must be an integer, got None"),
    ({"auth-service": 3}, 3, "replicas=3 is only used with a list of services"),
    (["Auth_Service"], 3, "'Auth_Service' is not a valid deployment name (DNS-1123"),
    (["-auth"], 3, "'-auth' is not a valid deployment name"),
    (["auth-"], 3, "'auth-' is not a valid deployment name"),
    (["a" * 254], 3, "is not a valid deployment name"),
    ([""], 3, "'' is not a valid deployment name"),
    ([7], 3, "7 is not a valid deployment name"),
    (["auth-service", "api-gateway", "auth-service"], 3, "duplicate deployment names: auth-service"),
])
def test_requested_replicas_refuses_naming_the_value(services, replicas, named):
    with pytest.raises(BatchError) as err:
        core.requested_replicas(services, replicas)
    assert named in str(err.value)


def test_requested_replicas_reports_every_problem_at_once():
    with pytest.raises(BatchError) as err:
        core.requested_replicas(["Bad", "ok", "ok"], -1)
    assert len(err.value.problems) == 3


@pytest.mark.parametrize("namespace, ok", [("lomash-wood", True), ("a", True), ("Lomash", False), ("a.b", False),
                                           ("x" * 64, False), ("", False), (None, False)])
def test_check_namespace(namespace, ok):
    if ok:
        assert core.check_namespace(namespace) == namespace
    else:
        with pytest.raises(BatchError, match="is not a valid namespace name"):
            core.check_namespace(namespace)


# ---- plan -------------------------------------------------------------------------------------

def observed(*deps):
    return {d.name: d for d in deps}


SUM = core.SECRETS_CHECKSUM


@pytest.mark.parametrize("case, current, want, restart, checksum, action", [
    ("0 -> 3", dep(replicas=0), 3, "never", None, "scale"),
    ("3 -> 0", dep(), 0, "never", None, "scale"),
    ("already there", dep(), 3, "never", None, "none"),
    ("already there, still rolling out (a killed run)", dep(ready=1, available=1), 3, "never", None, "wait"),
    ("always: restart only", dep(), None, "always", None, "restart"),
    ("always: restart and scale", dep(replicas=0), 3, "always", None, "scale-and-restart"),
    ("always: every run restarts", dep(annotations={SUM: "c1"}), 3, "always", None, "restart"),
    ("new content", dep(annotations={SUM: "c1"}), 3, "on_secret_change", "c2", "restart"),
    ("never started with a digest", dep(), 3, "on_secret_change", "c1", "restart"),
    ("0 -> 3 takes the digest with its scale-up", dep(replicas=0), 3, "on_secret_change", "c1", "scale-and-restart"),
    ("started with this content", dep(annotations={SUM: "c1"}), 3, "on_secret_change", "c1", "none"),
    ("restarted onto this content, still rolling out", dep(annotations={SUM: "c1"}, status_replicas=4), 3,
     "on_secret_change", "c1", "wait"),
    ("this content, but a resize asked", dep(annotations={SUM: "c1"}), 5, "on_secret_change", "c1", "scale"),
])
def test_plan_scaling_actions(case, current, want, restart, checksum, action):
    plan = core.plan_scaling({current.name: want}, observed(current), NS, restart, {current.name: checksum})
    assert [c.action for c in plan] == [action], case
    change = plan[0]
    assert (change.before, change.after) == (current.replicas, current.replicas if want is None else want)
    assert change.changed is (action in ("scale", "restart", "scale-and-restart"))
    assert change.template_annotations is bool(current.annotations)
    assert change.checksum == (checksum if change.restart else None)


def test_check_restart_names_the_bad_value():
    assert core.check_restart("on_secret_change") == "on_secret_change"
    with pytest.raises(BatchError, match="restart must be one of never, always, on_secret_change, got 'sometimes'"):
        core.check_restart("sometimes")


POD_SPEC = {
    "initContainers": [{"name": "migrate", "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "init-db", "key": "pw"}}}]}],
    "containers": [
        {"name": "app", "envFrom": [{"secretRef": {"name": "app-db"}}, {"configMapRef": {"name": "cfg"}}],
         "env": [{"name": "PLAIN", "value": "x"},
                 {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "tokens", "key": "t", "optional": True}}}]},
    ],
    "volumes": [
        {"name": "tls", "secret": {"secretName": "app-tls"}},
        {"name": "cfg", "configMap": {"name": "cfg"}},
        {"name": "bundle", "projected": {"sources": [{"secret": {"name": "bundle-a", "optional": True}},
                                                     {"configMap": {"name": "cfg"}}, {"secret": {"name": "tokens"}}]}},
    ],
}


def test_secret_refs_come_from_env_env_from_and_volumes():
    # tokens is optional in env but required by the projected volume: required.
    assert core.secret_refs(POD_SPEC) == {"init-db": False, "app-db": False, "tokens": False, "app-tls": False,
                                          "bundle-a": True}
    assert core.secret_refs({"containers": [{"name": "x"}]}) == {}


def secret(name, **data):
    return {"metadata": {"name": name}, "data": data}


def test_secrets_checksum_follows_the_content_and_never_holds_it():
    d = dep(secrets={"app-db": False, "tls": True})
    one = core.secrets_checksum(d, {"app-db": secret("app-db", DB_HOST="aG9zdA==", DB_PASSWORD="c2VjcmV0")}, NS)
    assert len(one) == 64 and "c2VjcmV0" not in one
    same = core.secrets_checksum(d, {"app-db": secret("app-db", DB_PASSWORD="c2VjcmV0", DB_HOST="aG9zdA=="),
                                     "unrelated": secret("unrelated", X="eA==")}, NS)
    assert same == one  # key order and Secrets it does not read do not count
    moved = core.secrets_checksum(d, {"app-db": secret("app-db", DB_HOST="bmV3", DB_PASSWORD="c2VjcmV0")}, NS)
    assert moved != one
    with_tls = core.secrets_checksum(d, {"app-db": secret("app-db", DB_HOST="aG9zdA==", DB_PASSWORD="c2VjcmV0"),
                                         "tls": secret("tls", crt="Yw==")}, NS)
    assert with_tls != one  # an optional Secret appearing is new content


def test_secrets_checksums_names_every_missing_secret_at_once():
    ok, gone = dep("a", secrets={"a-db": False}), dep("b", secrets={"b-db": False, "shared": False})
    sums = core.secrets_checksums([ok], {"a-db": secret("a-db", X="eA==")}, NS)
    assert list(sums) == ["a"] and sums["a"] == core.secrets_checksum(ok, {"a-db": secret("a-db", X="eA==")}, NS)
    with pytest.raises(BatchError) as err:
        core.secrets_checksums([dep("c", secrets={"c-db": False}), gone], {"b-db": secret("b-db")}, NS)
    assert err.value.problems == ["c reads Secret 'c-db', which is not in namespace lomash-wood",
                                  "b reads Secret 'shared', which is not in namespace lomash-wood"]


def test_secrets_checksum_names_a_missing_required_secret():
    with pytest.raises(BatchError, match="auth-service reads Secret 'app-db', which is not in namespace lomash-wood"):
        core.secrets_checksum(dep(secrets={"app-db": False, "tls": True}), {}, NS)


def test_plan_keeps_request_order_and_names_every_unknown_deployment():
    world = observed(dep("auth-service", 0), dep("api-gateway", 0))
    plan = core.plan_scaling({"api-gateway": 3, "auth-service": 3}, world, NS)
    assert [c.as_dict() for c in plan] == [
        {"name": "api-gateway", "action": "scale", "before": 0, "after": 3},
        {"name": "auth-service", "action": "scale", "before": 0, "after": 3},
    ]
    with pytest.raises(BatchError) as err:
        core.plan_scaling({"auth-service": 3, "ghost": 3, "spectre": 1}, world, NS, where="context c")
    assert err.value.problems == ["no deployment named 'ghost' in namespace lomash-wood (context c)",
                                  "no deployment named 'spectre' in namespace lomash-wood (context c)"]


def test_plan_names_a_missing_namespace():
    with pytest.raises(BatchError, match="namespace 'nope' does not exist"):
        core.plan_scaling({"auth-service": 3}, {}, "nope", namespace_missing=True)


def test_simulate_predicts_the_rolled_out_end_state():
    current = dep(replicas=0, annotations={"other": "x"})
    change = core.plan_scaling({"auth-service": 3}, observed(current), NS, "on_secret_change", {"auth-service": "c"})[0]
    after = core.simulate(change, current, "T")
    assert core.rolled_out(after, 3)
    assert after.annotations == {"other": "x", core.RESTARTED_AT: "T", SUM: "c"}
    assert current.annotations == {"other": "x"}  # the observed state is left as it was


def test_restart_stamp_is_rfc3339_with_microseconds():
    assert core.restart_stamp(datetime(2026, 11, 26, 4, 5, 6, 7, tzinfo=timezone.utc)) == "2026-11-26T04:05:06.000007+00:00"


# ---- patches ----------------------------------------------------------------------------------

def test_scale_patch_tests_the_replicas_the_plan_saw():
    assert core.scale_patch(core.Change("a", "scale", 2, 5)) == [
        {"op": "test", "path": "/spec/replicas", "value": 2}, {"op": "add", "path": "/spec/replicas", "value": 5}]
    # A Scale at 0 has no spec.replicas: "was 0" is an empty spec.
    assert core.scale_patch(core.Change("a", "scale", 0, 3))[0] == {"op": "test", "path": "/spec", "value": {}}


def test_restart_patch_adds_only_its_annotations():
    with_notes = core.restart_patch(core.Change("a", "restart", 3, 3, template_annotations=True, checksum="c"), "T")
    assert with_notes == [
        {"op": "test", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt", "value": "T"},
        {"op": "add", "path": "/spec/template/metadata/annotations/multiregion.lomashwood.com~1secrets-checksum", "value": "c"},
    ]
    without = core.restart_patch(core.Change("a", "scale-and-restart", 0, 3), "T")
    assert without == [
        {"op": "test", "path": "/spec/replicas", "value": 0},
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/spec/template/metadata/annotations", "value": {core.RESTARTED_AT: "T"}},
    ]


# ---- apply and wait on a fake API -------------------------------------------------------------

class Conflict(Exception):
    pass


class FakeApi:
    """Deployments in memory; a JSON patch's test op is checked like the API server does."""

    def __init__(self, deps, page_size=None):
        self.objs = {d["metadata"]["name"]: d for d in deps}
        self.calls = []
        self.page_size = page_size
        self.before_patch = None  # hook: someone else acts between read and write

    def list_namespaced_deployment(self, namespace, limit=None, _continue=None):
        self.calls.append(("list", _continue))
        names = sorted(self.objs)
        size = self.page_size or len(names) or 1
        start = int(_continue or 0)
        more = start + size < len(names)
        return {"items": [self.objs[n] for n in names[start:start + size]],
                "metadata": {"continue": str(start + size) if more else None}}

    def read_namespaced_deployment(self, name, namespace):
        self.calls.append(("read", name))
        return self.objs[name]

    def _patch(self, name, ops, scale):
        if self.before_patch:
            hook, self.before_patch = self.before_patch, None
            hook(self)
        spec = self.objs[name]["spec"]
        for op in ops:
            if op["op"] == "test":
                current = ({"replicas": spec["replicas"]} if spec["replicas"] else {}) if scale else spec
                value = current if op["path"] == "/spec" else current.get("replicas")
                if value != op["value"]:
                    raise Conflict("test failed")
            elif op["path"] == "/spec/replicas":
                spec["replicas"] = op["value"]
            elif op["path"] == "/spec/template/metadata/annotations":
                spec["template"]["metadata"]["annotations"] = dict(op["value"])
            else:
                if "annotations" not in spec["template"]["metadata"]:
                    raise Conflict("missing path")  # the API server's 422
                key = op["path"].rsplit("/", 1)[1].replace("~1", "/").replace("~0", "~")
                spec["template"]["metadata"]["annotations"][key] = op["value"]
        self.objs[name]["metadata"]["generation"] += 1

    def patch_namespaced_deployment_scale(self, name, namespace, body, content_type):
        assert content_type == core.JSON_PATCH
        self.calls.append(("patch_scale", name))
        self._patch(name, body, scale=True)

    def patch_namespaced_deployment(self, name, namespace, body, content_type):
        assert content_type == core.JSON_PATCH
        self.calls.append(("patch", name))
        self._patch(name, body, scale=False)


def is_conflict(exc):
    return isinstance(exc, Conflict)


def plan_for(api, wanted, **kwargs):
    return core.plan_scaling(wanted, core.list_deployments(api, NS), NS, **kwargs)


def test_list_deployments_follows_continue_tokens():
    api = FakeApi([api_obj("d%d" % i, 1) for i in range(5)], page_size=2)
    assert sorted(core.list_deployments(api, NS)) == ["d0", "d1", "d2", "d3", "d4"]
    assert [c for c in api.calls if c[0] == "list"] == [("list", None), ("list", "2"), ("list", "4")]


def test_apply_plan_writes_each_change_once_and_skips_the_rest():
    api = FakeApi([api_obj("a", 0), api_obj("b", 0), api_obj("c", 3)])
    plan = plan_for(api, {"a": 3, "b": 2, "c": 3})
    api.calls.clear()
    written, failures = core.apply_plan(api, NS, plan, max_concurrency=4, is_conflict=is_conflict)
    assert (written, failures) == ({"a", "b"}, {})
    assert sorted(api.calls) == [("patch_scale", "a"), ("patch_scale", "b")]
    assert {n: o["spec"]["replicas"] for n, o in api.objs.items()} == {"a": 3, "b": 2, "c": 3}


def test_restart_writes_annotations_and_keeps_the_templates_others():
    api = FakeApi([api_obj("a", 3, annotations={"keep": "me"}), api_obj("b", 0)])
    sums = {"a": "c", "b": "c"}
    plan = plan_for(api, {"a": None, "b": 3}, restart="on_secret_change", checksums=sums)
    written, failures = core.apply_plan(api, NS, plan, 2, "T", is_conflict)
    assert (written, failures) == ({"a", "b"}, {})
    assert api.objs["a"]["spec"]["template"]["metadata"]["annotations"] == {"keep": "me", core.RESTARTED_AT: "T", SUM: "c"}
    assert api.objs["b"]["spec"]["replicas"] == 3
    # The same content again: nothing to restart, the rollouts are waited for.
    assert [c.action for c in plan_for(api, {"a": None, "b": 3}, restart="on_secret_change", checksums=sums)] == ["wait", "wait"]


def test_a_resize_by_someone_else_is_left_alone_and_reported():
    api = FakeApi([api_obj("a", 0)])
    plan = plan_for(api, {"a": 3})
    api.before_patch = lambda fake: fake.objs["a"]["spec"].update(replicas=5)
    written, failures = core.apply_plan(api, NS, plan, 1, is_conflict=is_conflict)
    assert written == set()
    assert isinstance(failures["a"], core.ScaleConflict)
    assert str(failures["a"]) == "replicas changed from 0 to 5 by someone else since this run read them; left alone"
    assert api.objs["a"]["spec"]["replicas"] == 5


def test_done_by_someone_else_meanwhile_is_not_a_write():
    api = FakeApi([api_obj("a", 0)])
    plan = plan_for(api, {"a": 3})
    api.before_patch = lambda fake: fake.objs["a"]["spec"].update(replicas=3)
    assert core.apply_plan(api, NS, plan, 1, is_conflict=is_conflict) == (set(), {})


def test_a_failed_patch_with_replicas_unchanged_is_retried_from_what_is_there():
    # The template lost its annotations between plan and write: adding a key under them fails,
    # the deployment is read again (replicas unchanged) and the patch rebuilt.
    api = FakeApi([api_obj("a", 3, annotations={"sidecar": "on"})])
    plan = plan_for(api, {"a": None}, restart="always")
    api.before_patch = lambda fake: fake.objs["a"]["spec"]["template"]["metadata"].pop("annotations")
    written, failures = core.apply_plan(api, NS, plan, 1, "T", is_conflict)
    assert (written, failures) == ({"a"}, {})
    assert api.objs["a"]["spec"]["template"]["metadata"]["annotations"] == {core.RESTARTED_AT: "T"}
    assert [c[0] for c in api.calls if c[0] != "list"] == ["patch", "read", "patch"]


def test_other_errors_are_not_retried():
    api = FakeApi([api_obj("a", 0)])
    plan = plan_for(api, {"a": 3})

    def boom(fake):
        raise RuntimeError("500 etcdserver: request timed out")
    api.before_patch = boom
    written, failures = core.apply_plan(api, NS, plan, 1, is_conflict=is_conflict)
    assert written == set() and str(failures["a"]) == "500 etcdserver: request timed out"
    assert ("read", "a") not in api.calls


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class RollingApi(FakeApi):
    """Each deployment becomes rolled out at its own time on the fake clock."""

    def __init__(self, ready_at, clock):
        super().__init__([api_obj(n, 3, status={}) for n in ready_at])
        self.ready_at, self.clock = ready_at, clock

    def list_namespaced_deployment(self, namespace, limit=None, _continue=None):
        for name, at in self.ready_at.items():
            if at is not None and self.clock() >= at:
                self.objs[name]["status"] = {"observedGeneration": 4, "replicas": 3, "updatedReplicas": 3,
                                             "readyReplicas": 3, "availableReplicas": 3}
        return super().list_namespaced_deployment(namespace, limit, _continue)


def wait_for_rollout(api, targets, timeout, interval, clock):
    """What the module flow does with Scaling.poll and is_done."""
    return wait_for_batch(lambda: core.list_deployments(api, NS), list(targets),
                          lambda name, d: core.rolled_out(d, targets[name]), timeout, interval, clock=clock, sleep=clock.sleep)


def test_wait_lists_the_namespace_once_per_interval_for_the_whole_batch():
    clock = FakeClock()
    ready_at = {"d%d" % i: (i % 3) * 2.0 for i in range(100)}
    api = RollingApi(ready_at, clock)
    done, after, elapsed = wait_for_rollout(api, {n: 3 for n in ready_at}, 60, 1, clock)
    assert elapsed == 4.0 and done["d0"] == 0.0 and done["d1"] == 2.0 and done["d2"] == 4.0
    assert len(api.calls) == 5  # t = 0, 1, 2, 3, 4: one list each, for 100 deployments
    assert all(core.rolled_out(after[n]) for n in ready_at)


def test_wait_timeout_carries_done_and_pending():
    clock = FakeClock()
    api = RollingApi({"auth-service": 1.0, "api-gateway": None}, clock)
    with pytest.raises(BatchTimeout) as err:
        wait_for_rollout(api, {"auth-service": 3, "api-gateway": 3}, 5, 1, clock)
    assert err.value.pending == ["api-gateway"] and list(err.value.done) == ["auth-service"]
    assert core.progress(err.value.observed["api-gateway"]) == "ready 0/3, available 0/3, updated 0/3, change not yet observed by the controller"


def test_wait_is_not_fooled_by_a_deployment_at_another_size():
    clock = FakeClock()
    api = RollingApi({"a": 0.0}, clock)
    with pytest.raises(BatchTimeout):
        wait_for_rollout(api, {"a": 5}, 2, 1, clock)
