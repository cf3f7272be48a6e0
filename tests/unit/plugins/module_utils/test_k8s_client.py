"""KubeApi over a real ApiClient whose REST layer is a recorder: the requests the kubernetes client builds."""

import importlib.util
import io
import json
import sys
from collections import Counter

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException
from kubernetes.client.rest import RESTResponse

from ansible_collections.lomashwood.multiregion.plugins.module_utils import _k8s_client as k8s

HOST = "https://127.0.0.1:1"  # never connected to: the recorder answers
TOKEN = "t0ken"
NS = "lomash-wood"
APPS = HOST + "/apis/apps/v1/namespaces"
CORE = HOST + "/api/v1/namespaces"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"


class CallCounter:
    def __init__(self):
        self.counts = Counter()

    def add(self, operation, count=1):
        self.counts[operation] += count


class Recorder:
    """Stands in for RESTClientObject.request: records each call, answers with a real RESTResponse."""

    def __init__(self, status=200, body=None, reason="OK"):
        self.status, self.reason = status, reason
        self.body = body if body is not None else {"kind": "Thing", "metadata": {"name": "x"}}
        self.calls = []

    def __call__(self, method, url, headers=None, body=None, post_params=None, _request_timeout=None):
        self.calls.append(dict(method=method, url=url, headers=headers, body=body, timeout=_request_timeout))
        raw = self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()
        return RESTResponse(urllib3.HTTPResponse(body=io.BytesIO(raw), status=self.status, reason=self.reason,
                                                 headers={"Content-Type": "application/json"}, preload_content=False))


def connected(recorder, headers=None):
    """(KubeApi, counter) over a real Configuration and ApiClient, with the REST layer recorded."""
    configuration, _label = k8s.build_configuration({"host": HOST, "api_key": TOKEN})
    client = k8s.api_client(configuration, headers)
    client.rest_client.request = recorder
    counter = CallCounter()
    return k8s.KubeApi(client, counter), counter


def header(headers, name):
    """The values sent under a header name, in order (names compared case-insensitively, as HTTP does)."""
    return [value for key, value in headers.items() if str(key).lower() == name.lower()]


SCALE = {"spec": {"replicas": 3}}
OPS = [{"op": "replace", "path": "/spec/replicas", "value": 3}]
SECRET_DATA = {"data": {"DB_HOST": "ZGIuZXhhbXBsZQ=="}}

CALLS = [
    # (operation, args, kwargs, method, url, body, content type)
    ("list_namespaced_deployment", (NS,), {}, "GET", APPS + "/lomash-wood/deployments", None, None),
    ("list_namespaced_deployment", (NS,), {"limit": 50}, "GET", APPS + "/lomash-wood/deployments?limit=50", None, None),
    ("list_namespaced_deployment", (NS,), {"limit": 50, "_continue": "eyJ2 Ij=/"}, "GET",
     APPS + "/lomash-wood/deployments?limit=50&continue=eyJ2%20Ij%3D/", None, None),
    ("list_namespaced_deployment", ("a b/c",), {"_continue": "tok"}, "GET", APPS + "/a%20b%2Fc/deployments?continue=tok", None, None),
    ("read_namespaced_deployment", ("auth-service", NS), {}, "GET", APPS + "/lomash-wood/deployments/auth-service", None, None),
    ("read_namespaced_deployment", ("we?b#1", NS), {}, "GET", APPS + "/lomash-wood/deployments/we%3Fb%231", None, None),
    ("patch_namespaced_deployment", ("auth-service", NS, OPS, JSON_PATCH), {}, "PATCH",
     APPS + "/lomash-wood/deployments/auth-service", OPS, JSON_PATCH),
    ("patch_namespaced_deployment", ("auth-service", NS, SCALE, MERGE_PATCH), {}, "PATCH",
     APPS + "/lomash-wood/deployments/auth-service", SCALE, MERGE_PATCH),
    ("patch_namespaced_deployment_scale", ("auth-service", NS, OPS, JSON_PATCH), {}, "PATCH",
     APPS + "/lomash-wood/deployments/auth-service/scale", OPS, JSON_PATCH),
    ("patch_namespaced_deployment_scale", ("auth-service", NS, SCALE, MERGE_PATCH), {}, "PATCH",
     APPS + "/lomash-wood/deployments/auth-service/scale", SCALE, MERGE_PATCH),
    ("read_namespace", (NS,), {}, "GET", CORE + "/lomash-wood", None, None),
    ("list_namespaced_secret", (NS,), {}, "GET", CORE + "/lomash-wood/secrets", None, None),
    ("list_namespaced_secret", (NS,), {"limit": 2, "_continue": "c2"}, "GET", CORE + "/lomash-wood/secrets?limit=2&continue=c2", None, None),
    ("read_namespaced_secret", ("db-creds", NS), {}, "GET", CORE + "/lomash-wood/secrets/db-creds", None, None),
    ("patch_namespaced_secret", ("db-creds", NS, SECRET_DATA, MERGE_PATCH), {}, "PATCH",
     CORE + "/lomash-wood/secrets/db-creds", SECRET_DATA, MERGE_PATCH),
    ("patch_namespaced_secret", ("we?b#1", NS, SECRET_DATA, MERGE_PATCH), {}, "PATCH",
     CORE + "/lomash-wood/secrets/we%3Fb%231", SECRET_DATA, MERGE_PATCH),
]


@pytest.mark.parametrize("operation, args, kwargs, method, url, body, content_type", CALLS)
def test_each_call_is_built_by_the_client(operation, args, kwargs, method, url, body, content_type):
    recorder = Recorder(body={"kind": "Answer", "items": [{"n": 1}]})
    api, counter = connected(recorder)

    assert getattr(api, operation)(*args, **kwargs) == {"kind": "Answer", "items": [{"n": 1}]}

    (call,) = recorder.calls
    assert (call["method"], call["url"], call["body"]) == (method, url, body)
    assert header(call["headers"], "Authorization") == ["Bearer %s" % TOKEN]
    assert header(call["headers"], "Accept") == ["application/json"]
    assert header(call["headers"], "Content-Type") == ([content_type] if content_type else [])
    assert header(call["headers"], "User-Agent")  # the client's default headers still go
    assert call["timeout"] == k8s.REQUEST_TIMEOUT
    assert counter.counts == Counter({operation: 1})


@pytest.mark.parametrize("operation, args", [
    ("patch_namespaced_deployment", ("auth-service", NS, SCALE)),
    ("patch_namespaced_deployment_scale", ("auth-service", NS, SCALE)),
    ("patch_namespaced_secret", ("db-creds", NS, SECRET_DATA)),
])
def test_patches_need_a_content_type(operation, args):
    api, counter = connected(Recorder())
    with pytest.raises(TypeError):
        getattr(api, operation)(*args)
    assert not counter.counts


def status_body(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason, "code": code}


@pytest.mark.parametrize("operation, args, status, reason, body, described", [
    ("read_namespaced_deployment", ("web", NS), 404, "Not Found",
     status_body(404, "NotFound", 'deployments.apps "web" not found'), '404 deployments.apps "web" not found'),
    ("read_namespaced_secret", ("db-creds", NS), 404, "Not Found",
     status_body(404, "NotFound", 'secrets "db-creds" not found'), '404 secrets "db-creds" not found'),
    ("list_namespaced_secret", (NS,), 403, "Forbidden",
     status_body(403, "Forbidden", "secrets is forbidden"), "403 secrets is forbidden"),
    ("patch_namespaced_deployment_scale", ("web", NS, OPS, JSON_PATCH), 409, "Conflict",
     status_body(409, "Conflict", "the object has been modified"), "409 the object has been modified"),
    ("patch_namespaced_deployment", ("web", NS, OPS, JSON_PATCH), 422, "Unprocessable Entity",
     status_body(422, "Invalid", "replicas: Invalid value"), "422 replicas: Invalid value"),
    ("patch_namespaced_secret", ("db-creds", NS, SECRET_DATA, MERGE_PATCH), 404, "Not Found",
     status_body(404, "NotFound", 'secrets "db-creds" not found'), '404 secrets "db-creds" not found'),
    ("read_namespace", (NS,), 503, "Service Unavailable", b"upstream down", "503 Service Unavailable"),  # not a Status: the reason
])
def test_an_error_status_raises_api_exception(operation, args, status, reason, body, described):
    api, counter = connected(Recorder(status=status, reason=reason, body=body))
    with pytest.raises(ApiException) as raised:
        getattr(api, operation)(*args)
    assert k8s.is_status(raised.value, status)
    assert not k8s.is_status(raised.value, 200, status + 1)
    assert k8s.describe_error(raised.value) == described
    assert counter.counts == Counter({operation: 1})


@pytest.mark.parametrize("headers, expected", [
    ({}, {"Impersonate-User": [], "Impersonate-Group": []}),
    ({"Impersonate-User": "alice"}, {"Impersonate-User": ["alice"], "Impersonate-Group": []}),
    ({"Impersonate-Group": ["system:masters"]}, {"Impersonate-User": [], "Impersonate-Group": ["system:masters"]}),
    ({"Impersonate-User": "alice", "Impersonate-Group": ["dev", "ops", "audit"]},
     {"Impersonate-User": ["alice"], "Impersonate-Group": ["dev", "ops", "audit"]}),
])
def test_default_headers_and_repeated_impersonate_group_are_sent(headers, expected):
    recorder = Recorder()
    api, _label = connected(recorder, headers)
    api.list_namespaced_deployment(NS)
    api.patch_namespaced_deployment_scale("web", NS, OPS, JSON_PATCH)  # the caller's headers and the defaults together
    for call in recorder.calls:
        sent = {name: header(call["headers"], name) for name in expected}
        assert sent == expected
        assert header(call["headers"], "Authorization") == ["Bearer %s" % TOKEN]


def test_request_headers_from_options_reach_the_request(monkeypatch):
    monkeypatch.delenv("K8S_AUTH_IMPERSONATE_USER", raising=False)
    monkeypatch.setenv("K8S_AUTH_IMPERSONATE_GROUPS", "dev,,ops")
    recorder = Recorder()
    api, _label = connected(recorder, k8s.request_headers({"impersonate_user": "bob"}))
    api.read_namespace(NS)
    (call,) = recorder.calls
    assert header(call["headers"], "Impersonate-User") == ["bob"]
    assert header(call["headers"], "Impersonate-Group") == ["dev", "ops"]


def test_imports_without_kubernetes(monkeypatch):
    # A module must load to report missing_required_lib; a None entry makes `import kubernetes` fail.
    for name in [n for n in sys.modules if n == "kubernetes" or n.startswith("kubernetes.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "kubernetes", None)
    spec = importlib.util.spec_from_file_location("_k8s_client_without_kubernetes", k8s.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.HAS_KUBERNETES is False and isinstance(module.KUBERNETES_IMPORT_ERROR, ImportError)
    assert module.AUTH_ARG_SPEC is k8s.AUTH_ARG_SPEC
    assert not module.is_status(ValueError(), 404)
    assert module.describe_error(ValueError("boom")) == "boom"
