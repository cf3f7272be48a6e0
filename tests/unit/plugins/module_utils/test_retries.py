"""Retries are counted (issue 11): botocore's transient failures, the Kubernetes client's, and the report's sum."""

import pytest
import urllib3
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from botocore.parsers import ResponseParserError

from ansible_collections.lomashwood.multiregion.plugins.module_utils.aws import TransientRetry

from ansible_collections.lomashwood.multiregion.plugins.filter.report import retries_of
from ansible_collections.lomashwood.multiregion.plugins.module_utils import _k8s_client as k8s
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import ApiCallCounter


class _Http:
    def __init__(self, status):
        self.status_code = status


@pytest.mark.parametrize("response,exception,counted", [
    ((_Http(400), {"Error": {"Code": "Throttling"}}), None, True),
    ((_Http(400), {"Error": {"Code": "RequestLimitExceeded"}}), None, True),
    ((_Http(400), {"Error": {"Code": "PriorRequestNotComplete"}}), None, True),
    ((_Http(500), {"Error": {"Code": "InternalFailure"}}), None, True),
    ((_Http(503), {"Error": {"Code": "ServiceUnavailable"}}), None, True),
    ((_Http(429), {}), None, True),
    (None, ConnectionResetError("reset"), True),
    ((_Http(200), {}), None, False),
    ((_Http(400), {"Error": {"Code": "InvalidDBInstanceState"}}), None, False),
    ((_Http(404), {"Error": {"Code": "DBInstanceNotFound"}}), None, False),
])
def test_transient_failures_are_counted_by_operation(response, exception, counted):
    counter = ApiCallCounter()
    counter._count_transient("needs-retry.rds.PromoteReadReplica", response=response,  # pylint: disable=protected-access
                             caught_exception=exception)
    assert counter.retries() == ({"PromoteReadReplica": 1} if counted else {})


def _failing(*errors):
    """A call that raises each of errors in turn, then answers "ok"; calls: how many times it was called."""
    left = list(errors)

    def call():
        call.calls += 1
        if left:
            raise left.pop(0)
        return "ok"
    call.calls = 0
    return call


def _client_error(code):
    return ClientError({"Error": {"Code": code, "Message": code}}, "CopyObject")


def _closed():
    return ConnectionClosedError(endpoint_url="http://127.0.0.1:1/bucket/key")


def test_a_closed_connection_is_tried_again_like_a_throttle():
    retry = TransientRetry.jittered_backoff(retries=4, delay=0)
    call = _failing(_closed(), _client_error("Throttling"), _closed())
    assert retry(call)() == "ok" and call.calls == 4


def test_an_unreadable_answer_is_tried_again():
    # Seen in CI: the emulator answered a DeleteDBInstance with an HTML 500 page; botocore raised as it parsed it.
    unreadable = ResponseParserError("Unable to parse response (syntax error: line 1, column 0), invalid XML received. "
                                     "Further retries may succeed:\nb'<!doctype html>...500 Internal Server Error'")
    call = _failing(unreadable, _closed())
    assert TransientRetry.jittered_backoff(retries=4, delay=0)(call)() == "ok" and call.calls == 3


@pytest.mark.parametrize("error", [
    _client_error("AccessDenied"),  # not transient
    ReadTimeoutError(endpoint_url="http://127.0.0.1:1/"),  # slow: left to botocore's own tries
    ValueError("bug"),
])
def test_other_failures_are_not_tried_again(error):
    call = _failing(error)
    with pytest.raises(type(error)):
        TransientRetry.jittered_backoff(retries=4, delay=0)(call)()
    assert call.calls == 1


def test_closed_connections_are_tried_again_only_so_many_times():
    call = _failing(*[_closed() for attempt in range(5)])
    with pytest.raises(ConnectionClosedError):
        TransientRetry.jittered_backoff(retries=3, delay=0)(call)()
    assert call.calls == 3


class _Events:
    def __init__(self):
        self.handlers = {}

    def register(self, event, handler):
        self.handlers[event] = handler


class _Client:
    def __init__(self):
        self.meta = type("Meta", (), {"events": _Events()})()


def test_attach_counts_attempts_and_transient_failures_unless_told_not_to():
    client, counter = _Client(), ApiCallCounter()
    counter.attach(client)
    client.meta.events.handlers["before-send.*.*"](event_name="before-send.rds.DescribeDBInstances")
    client.meta.events.handlers["needs-retry.*.*"](event_name="needs-retry.rds.DescribeDBInstances",
                                                   response=(_Http(503), {"Error": {"Code": "ServiceUnavailable"}}))
    assert (counter.as_dict(), counter.retries()) == ({"DescribeDBInstances": 1}, {"DescribeDBInstances": 1})
    quiet = _Client()
    ApiCallCounter().attach(quiet, count_retries=False)  # one-attempt clients (a region that may be down)
    assert "needs-retry.*.*" not in quiet.meta.events.handlers


@pytest.mark.parametrize("url,resource", [
    ("/apis/apps/v1/namespaces/lomash-wood/deployments/api-gateway/scale", "deployments/scale"),
    ("/apis/apps/v1/namespaces/lomash-wood/deployments/api-gateway", "deployments"),
    ("/apis/apps/v1/namespaces/lomash-wood/deployments?limit=500", "deployments"),
    ("/api/v1/namespaces/lomash-wood/secrets/auth-service-db", "secrets"),
    ("/api/v1/namespaces/lomash-wood", "namespaces"),
])
def test_kubernetes_retries_are_named_by_method_and_resource(url, resource):
    assert k8s._resource_of(url) == resource  # pylint: disable=protected-access


@pytest.mark.parametrize("method,status,retried", [("GET", 429, True), ("PATCH", 429, True), ("PATCH", 500, True),
                                                   ("GET", 503, True), ("POST", 500, False), ("PATCH", 422, False)])
def test_the_kubernetes_client_retries_its_reads_and_patches(method, status, retried):
    counter = ApiCallCounter()
    retry = k8s._counted_retry(counter)(  # pylint: disable=protected-access
        total=6, connect=4, read=4, status=4, other=0, raise_on_status=False,
        status_forcelist=(429, 500, 502, 503, 504), allowed_methods=frozenset(["GET", "PATCH"]))
    response = urllib3.response.HTTPResponse(status=status, headers={})
    assert retry.is_retry(method, status) is retried
    if retried:
        retry.increment(method, "/api/v1/namespaces/lomash-wood/secrets/x", response=response)
        assert counter.retries() == {"%s secrets" % method: 1}


def test_a_lost_answer_to_a_patch_is_retried_and_counted():
    counter = ApiCallCounter()
    configuration = k8s.k8s_client.Configuration()
    configuration.host = "http://127.0.0.1:1"
    api = k8s.api_client(configuration, counter=counter)
    retry = configuration.retries
    again = retry.increment("PATCH", "/api/v1/namespaces/n/secrets/s", error=urllib3.exceptions.ProtocolError("lost"))
    assert again.read == retry.read - 1 and counter.retries() == {"PATCH secrets": 1}
    assert api is not None


def test_the_report_adds_up_the_modules_retries_once_each():
    promoted = {"changed": True, "retries": {"PromoteReadReplica": 2, "DescribeDBInstances": 1}}
    variables = {
        "dr_promote_status": promoted,
        "dr_promoted": dict(promoted),  # a set_fact copy: not counted twice
        "dr_scaled": {"results": [{"retries": {"PATCH deployments/scale": 1}}, {"retries": {}}]},
        "dr_lock": {"retries": {}},
        "dr_name": "text",
    }

    class Vars(dict):
        def __getitem__(self, key):
            if key == "dr_broken":
                raise RuntimeError("template error")
            return dict.__getitem__(self, key)

    assert retries_of(Vars(variables), sorted(variables) + ["dr_broken", "dr_missing"]) == {
        "total": 4, "by_operation": {"DescribeDBInstances": 1, "PATCH deployments/scale": 1, "PromoteReadReplica": 2}}


def test_the_report_reads_the_results_as_stored_without_templating_the_others():
    """ansible-core's hostvars view templates each variable read through it; the stored ones (its _vars) are read
    as they are: a registered result needs no templating, and a template elsewhere is never rendered."""

    class HostVarsView:
        def __init__(self, stored):
            self._vars = stored

        def __getitem__(self, key):
            raise AssertionError("templated %s" % key)

    stored = {"dr_promote_status": {"retries": {"PromoteReadReplica": 2}},
              "dr_caller": "{{ lookup('pipe', 'exit 1') }}",  # would fail if it were rendered
              "dr_lock": {"retries": {"PutParameter": 1}}}
    assert retries_of(HostVarsView(stored), sorted(stored) + ["dr_missing"]) == {
        "total": 3, "by_operation": {"PromoteReadReplica": 2, "PutParameter": 1}}
