"""The audit log reader of tests/k8s/cluster.py, on hand-written logs; no cluster.

    .venv/bin/python -m pytest -q tests/k8s/test_audit.py

(tests/integration/test_call_counting.py checks it against the real apiservers.)
"""

from __future__ import annotations

import json
import os

import pytest
import yaml

from tests.k8s import cluster

ADMIN_UA = "OpenAPI-Generator/37.0.0/python"


def event(verb="patch", resource="deployments", sub="scale", user="admin", ua=ADMIN_UA,
          stage="ResponseComplete", code=200, uri=None, group="apps", ns="lomash-wood", name="api-gateway"):
    ref = None
    if resource:
        ref = {"resource": resource, "namespace": ns, "name": name, "apiGroup": group, "apiVersion": "v1"}
        if sub:
            ref["subresource"] = sub
    uri = uri or "/apis/%s/v1/namespaces/%s/%s/%s%s" % (group, ns, resource, name, "/" + sub if sub else "")
    ev = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": "x",
          "stage": stage, "requestURI": uri, "verb": verb,
          "user": {"username": user, "groups": ["system:masters", "system:authenticated"]},
          "sourceIPs": ["127.0.0.1"], "userAgent": ua, "responseStatus": {"metadata": {}, "code": code},
          "requestReceivedTimestamp": "2026-11-26T10:00:00.000000Z",
          "stageTimestamp": "2026-11-26T10:00:00.010000Z"}
    if ref:
        ev["objectRef"] = ref
    return ev


def write(path, *events, partial=b""):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as handle:
        for ev in events:
            handle.write(json.dumps(ev).encode() + b"\n")
        handle.write(partial)


@pytest.fixture
def run_dir(tmp_path):
    for region in cluster.REGIONS:
        (tmp_path / region).mkdir()
    return tmp_path


def log(run_dir, region="eu-west-2"):
    return cluster.audit_log(run_dir, region)


def test_counts_clients_writes_by_region_verb_and_resource(run_dir):
    write(log(run_dir), event(), event(), event(verb="create", resource="configmaps", sub=None, group=""),
          event(verb="delete", resource="pods", sub=None, group="", code=404))
    write(log(run_dir, "eu-west-1"), event(verb="update", resource="secrets", sub=None, group=""),
          event(verb="deletecollection", resource="pods", sub=None, group=""))
    assert cluster.mutating_requests(run_dir) == {
        "k8s:eu-west-1:deletecollection pods": 1,
        "k8s:eu-west-1:update secrets": 1,
        "k8s:eu-west-2:create configmaps": 1,
        "k8s:eu-west-2:delete pods": 1,  # a failed attempt counts, as the AWS world counts it
        "k8s:eu-west-2:patch deployments/scale": 2,
    }
    one = cluster.audit_events(run_dir)[0]
    assert (one["region"], one["user"], one["user_agent"], one["code"]) == ("eu-west-1", "admin", ADMIN_UA, 200)


def test_the_control_plane_the_node_simulator_reads_reviews_and_dry_runs_do_not_count(run_dir):
    write(log(run_dir),
          event(user="system:kube-controller-manager", verb="create", resource="pods", sub=None, group=""),
          event(user="system:kube-scheduler", verb="create", resource="pods", sub="binding", group=""),
          event(user="system:apiserver", verb="update", resource="clusterroles", sub=None),
          event(user="lomashwood:nodesim", verb="patch", resource="pods", sub="status", group=""),
          # a simulator started by hand with admin's kubeconfig: known by its User-Agent
          event(ua="lomashwood-nodesim/1 (tests/k8s/nodesim.py)", verb="patch", resource="leases", sub=None),
          event(verb="get"), event(verb="list"), event(verb="watch"),
          event(stage="ResponseStarted"), event(stage="RequestReceived"), event(stage="Panic"),
          event(verb="create", resource="selfsubjectaccessreviews", sub=None, group="authorization.k8s.io"),
          event(verb="create", resource="tokenreviews", sub=None, group="authentication.k8s.io"),
          event(uri="/apis/apps/v1/namespaces/lomash-wood/deployments/api-gateway/scale?dryRun=All"))
    assert cluster.mutating_requests(run_dir) == {}
    write(log(run_dir), event(uri="/apis/apps/v1/namespaces/lomash-wood/deployments/api-gateway/scale?fieldManager=x"))
    assert cluster.mutating_requests(run_dir) == {"k8s:eu-west-2:patch deployments/scale": 1}


def test_a_non_resource_write_is_keyed_by_its_path(run_dir):
    write(log(run_dir), event(resource=None, verb="create", uri="/some/path?x=1"))
    assert cluster.mutating_requests(run_dir) == {"k8s:eu-west-2:create /some/path": 1}


def test_only_what_came_after_the_mark(run_dir):
    assert cluster.audit_mark(run_dir) == {"eu-west-1": [None, 0], "eu-west-2": [None, 0]}
    before_any_log = cluster.audit_mark(run_dir)
    write(log(run_dir), event())
    mark = cluster.audit_mark(run_dir)
    assert mark["eu-west-2"] == [os.stat(log(run_dir)).st_ino, os.path.getsize(log(run_dir))]
    assert cluster.mutating_requests(run_dir, mark) == {}
    write(log(run_dir), event(verb="delete", resource="configmaps", sub=None, group=""))
    write(log(run_dir, "eu-west-1"), event())
    assert cluster.mutating_requests(run_dir, mark) == {
        "k8s:eu-west-1:patch deployments/scale": 1, "k8s:eu-west-2:delete configmaps": 1}
    assert cluster.mutating_requests(run_dir, before_any_log) == cluster.mutating_requests(run_dir) == {
        "k8s:eu-west-1:patch deployments/scale": 1, "k8s:eu-west-2:delete configmaps": 1,
        "k8s:eu-west-2:patch deployments/scale": 1}


def test_an_event_half_written_counts_once_it_is_complete(run_dir):
    line = json.dumps(event()).encode()
    write(log(run_dir), event(), partial=line[:40])
    mark_dict = {"eu-west-2": [None, 0]}
    assert cluster.mutating_requests(run_dir, mark_dict) == {"k8s:eu-west-2:patch deployments/scale": 1}
    with open(log(run_dir), "ab") as handle:
        handle.write(line[40:] + b"\n")
    assert cluster.mutating_requests(run_dir, mark_dict) == {"k8s:eu-west-2:patch deployments/scale": 2}


def test_a_rotation_since_the_mark_loses_nothing(run_dir):
    write(log(run_dir), event(), event())
    mark = cluster.audit_mark(run_dir)
    write(log(run_dir), event(verb="create", resource="configmaps", sub=None, group=""))
    # lumberjack: rename the full file (same inode) to audit-<time>.log, start a new audit.log
    os.rename(log(run_dir), log(run_dir).with_name("audit-2026-11-26T10-00-00.000.log"))
    write(log(run_dir), event(verb="delete", resource="configmaps", sub=None, group=""))
    assert cluster.mutating_requests(run_dir, mark) == {
        "k8s:eu-west-2:create configmaps": 1, "k8s:eu-west-2:delete configmaps": 1}
    # the marked file gone (older than the kept backups): an error, not a silent undercount
    os.remove(log(run_dir).with_name("audit-2026-11-26T10-00-00.000.log"))
    with pytest.raises(cluster.ClusterError, match="rotated away"):
        cluster.mutating_requests(run_dir, mark)


def test_a_new_cluster_in_the_same_dir_is_read_from_its_start(run_dir):
    write(log(run_dir), *[event()] * 5)
    mark = cluster.audit_mark(run_dir)
    # start() empties the region dir; a new log that happens to get the old inode is smaller
    with open(log(run_dir), "wb") as handle:
        handle.write(json.dumps(event(verb="create", resource="pods", sub=None, group="")).encode() + b"\n")
    assert cluster.mutating_requests(run_dir, mark) == {"k8s:eu-west-2:create pods": 1}


def test_the_policy_logs_exactly_what_the_reader_counts():
    policy = yaml.safe_load(cluster.AUDIT_POLICY)
    assert policy["apiVersion"] == "audit.k8s.io/v1" and policy["omitStages"] == ["RequestReceived"]
    skip_users, skip_reviews, log_writes, rest = policy["rules"]
    assert skip_users == {"level": "None", "users": list(cluster.CONTROL_PLANE_USERS)}
    assert set(skip_users["users"]) >= {"system:apiserver", "system:kube-controller-manager",
                                        "system:kube-scheduler", "lomashwood:nodesim"}
    assert skip_reviews == {"level": "None", "resources": [{"group": "authentication.k8s.io"},
                                                           {"group": "authorization.k8s.io"}]}
    assert log_writes == {"level": "Metadata", "verbs": ["create", "update", "patch", "delete", "deletecollection"]}
    assert rest == {"level": "None"}
    assert set(cluster.COMPONENT_USERS.values()) < set(cluster.CONTROL_PLANE_USERS)


def test_the_node_simulator_sends_the_user_agent_the_reader_leaves_out():
    from tests.k8s import nodesim
    assert nodesim.USER_AGENT.startswith(cluster.NODESIM_USER_AGENT)
    from kubernetes import client
    kube = object.__new__(nodesim.Kube)  # no kubeconfig needed for the headers
    kube.cfg = client.Configuration()
    assert kube._headers()["User-Agent"] == nodesim.USER_AGENT
