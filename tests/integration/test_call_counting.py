"""runner.mutating sees every mutating call, AWS and Kubernetes, and nothing else.

    scripts/in-netns.sh scripts/with-world.sh --k8s -- \
        .venv/bin/python -m pytest -q tests/integration/test_call_counting.py

What "a rerun changes nothing" tests rely on: `mutating(world.calls(), k8s.calls())` counts the
world's mutating AWS calls and the clients' writes to both kube-apiservers (their audit logs), so
it can fail; a pure read counts as nothing; the control plane's and the node simulator's own
writes, which follow any scale, do not count.
"""

from __future__ import annotations

import time

from kubernetes import client
from kubernetes.client.rest import ApiException

from .k8s import NS, PRIMARY, STANDBY
from .runner import mutating

SCALE = "k8s:%s:patch deployments/scale"
PARAMETER = "/lomash-wood/test/call-counting"


def test_a_kubernetes_scale_patch_and_an_ssm_put_are_both_mutating(world, k8s):
    world.reset_calls()
    k8s.reset_calls()
    apps = k8s.api(STANDBY)[0]
    apps.patch_namespaced_deployment_scale("api-gateway", NS, {"spec": {"replicas": 1}})
    world.client("ssm", STANDBY).put_parameter(Name=PARAMETER, Value="1", Type="String")
    assert mutating(world.calls(), k8s.calls()) == {SCALE % STANDBY: 1, "ssm:PutParameter": 1}, k8s.writes()
    assert mutating(world.calls()) == {"ssm:PutParameter": 1}  # the AWS side alone, as before


def test_every_write_verb_in_either_region_counts_and_a_failed_one_too(world, k8s):
    k8s.reset_calls()
    core = k8s.api(PRIMARY)[1]
    body = {"metadata": {"name": "call-counting"}, "data": {"a": "1"}}
    core.create_namespaced_config_map(NS, body)
    core.patch_namespaced_config_map("call-counting", NS, {"data": {"a": "2"}})
    current = core.read_namespaced_config_map("call-counting", NS)
    current.data["a"] = "3"
    core.replace_namespaced_config_map("call-counting", NS, current)
    core.delete_namespaced_config_map("call-counting", NS)
    try:  # gone: a 404, but a write was attempted (the AWS world counts failed calls too)
        core.delete_namespaced_config_map("call-counting", NS)
    except ApiException as exc:
        assert exc.status == 404
    core.delete_collection_namespaced_config_map(NS, label_selector="lomashwood.io/none=1")
    # a server-side dry run is validated and not stored: not a write
    k8s.api(STANDBY)[0].patch_namespaced_deployment_scale("api-gateway", NS, {"spec": {"replicas": 2}},
                                                          dry_run="All")
    assert k8s.calls() == {
        "k8s:eu-west-1:create configmaps": 1,
        "k8s:eu-west-1:update configmaps": 1,
        "k8s:eu-west-1:patch configmaps": 1,
        "k8s:eu-west-1:delete configmaps": 2,
        "k8s:eu-west-1:deletecollection configmaps": 1,
    }, k8s.writes()
    assert [w["code"] for w in k8s.writes()] == [201, 200, 200, 200, 404, 200]
    assert k8s.deployments()["api-gateway"]["replicas"] == 0


def test_pure_reads_count_as_nothing(world, k8s):
    world.reset_calls()
    k8s.reset_calls()
    for region in (STANDBY, PRIMARY):
        apps, core = k8s.api(region)
        apps.list_namespaced_deployment(NS)
        apps.read_namespaced_deployment_scale("api-gateway", NS)
        core.list_namespaced_pod(NS)
        core.list_node()
    k8s.deployments()
    ec2 = world.client("ec2", STANDBY)
    ec2.describe_instances()
    world.client("rds", STANDBY).describe_db_instances()
    world.client("ssm", STANDBY).get_parameters_by_path(Path="/lomash-wood")
    world.client("route53").list_hosted_zones()
    assert world.calls()["total"] == 4  # the reads were counted, as reads
    assert mutating(world.calls(), k8s.calls()) == {}, k8s.writes()


def _lease_renewed(k8s, region=STANDBY):
    coordination = client.CoordinationV1Api(k8s.api(region)[0].api_client)
    node = "%s-node-0" % region
    return coordination.read_namespaced_lease(node, "kube-node-lease").spec.renew_time


def test_the_control_plane_and_the_node_simulator_do_not_count(world, k8s):
    world.reset_calls()
    k8s.reset_calls()
    apps = k8s.api(STANDBY)[0]
    apps.patch_namespaced_deployment_scale("api-gateway", NS, {"spec": {"replicas": 3}})
    k8s.wait_until(lambda: k8s.rolled_out(["api-gateway"], replicas=3), timeout=60, what="api-gateway at 3")
    pods = k8s.pods("api-gateway")
    assert len(pods) == 3 and all(pods.values())
    # Meanwhile the deployment controller made a ReplicaSet and updated statuses, the ReplicaSet
    # controller made 3 pods, the scheduler bound them, the node simulator made them Running and
    # Ready, and events were written: none of it is the test's.
    assert mutating(world.calls(), k8s.calls()) == {SCALE % STANDBY: 1}, k8s.writes()

    # Settled: what goes on in a quiet cluster (lease renewals every 10 s, node status, controller
    # resyncs) counts as nothing either. Wait 2 s, and until a lease was renewed at least once.
    k8s.reset_calls()
    renewed = _lease_renewed(k8s)
    start = time.monotonic()
    k8s.wait_until(lambda: time.monotonic() - start >= 2 and _lease_renewed(k8s) != renewed,
                   timeout=15, what="a node simulator lease renewal")
    assert mutating(world.calls(), k8s.calls()) == {}, k8s.writes()
