"""playbooks/failback.yml end to end on the embedded world: after a failover, back home."""

from __future__ import annotations

import glob
import json
import re

from tests.world import snapshot

from .runner import mutating, run_playbook
from .test_failover_playbook import platform  # noqa: F401  # pylint: disable=unused-import  # the fixture


def _run(world, tmp_path, playbook, check=False, diff=False, **extra):
    return run_playbook(playbook, env={"LOMASHWOOD_REPORT_DIR": str(tmp_path)}, check=check, diff=diff,
                        extra_vars=dict({"dr_incident_id": world.incident}, **extra), timeout=900)


def _report(tmp_path, operation):
    files = sorted(glob.glob(str(tmp_path / ("%s-*.json" % operation))))
    assert files, "no %s report" % operation
    with open(files[-1]) as f:
        return json.load(f)


def _shape(world, versions=False):
    """The world resource by resource (tests/world/snapshot.py, which the molecule scenarios compare
    too): RDS in both regions with sources, classes, statuses and Multi-AZ, the DNS records and health
    checks, CRR rules, the lock parameters, Redis, the deployments' sizes and the Secrets' endpoints in
    both clusters; with versions, every Kubernetes object's resourceVersion as well (any write)."""
    shape = snapshot.shape(world.endpoint, world.k8s_kubeconfig)
    return {key: value for key, value in shape.items() if versions or not key.startswith("version/")}


def test_failover_then_failback_returns_home(platform, tmp_path):  # noqa: F811
    """The round trip: failover with eu-west-1 down, then failback once it answers, leaves the world
    in its starting shape, compared resource by resource, with a report for each."""
    import os
    world = platform
    world.k8s_kubeconfig = os.environ["KUBECONFIG"]
    world.region_up("eu-west-1")
    before = _shape(world)
    world.region_down("eu-west-1")  # the outage a failover is for
    proc = _run(world, tmp_path, "playbooks/failover.yml")
    assert proc.returncode == 0, proc.stdout[-3000:]
    failover = _report(tmp_path, "failover")
    assert failover["outcome"] == "succeeded"
    # traffic is pinned to eu-west-2: eu-west-1 answering again does not take it back on its own
    world.region_up("eu-west-1")
    # The rehearsal first: --check --diff prints the whole plan and changes nothing, anywhere.
    failed_over = _shape(world, versions=True)
    world.reset_calls()
    world.k8s.reset_calls()
    proc = _run(world, tmp_path, "playbooks/failback.yml", check=True, diff=True)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert mutating(world.calls(), world.k8s.calls()) == {}
    assert _shape(world, versions=True) == failed_over
    for planned in ("+        snapshot_status: available",  # the stale home instances kept as snapshots
                    "Would create 8 replicas in eu-west-1 of lomash-auth-prod-replica",
                    "-            replicas: 3\n+            replicas: 0",  # writes stop in eu-west-2
                    "would promote lomash-auth-prod",  # (the report's step, below)
                    "step 1 of 3, 10% to eu-west-1 (eu-west-1=10, eu-west-2=90)", "+                weight: 10",
                    "TASK [lomashwood.multiregion.restore_standby : Scale the standby services to 0"):
        assert planned in proc.stdout + json.dumps(_report(tmp_path, "failback")), planned
    assert world.edge_resolve()["region"] == "eu-west-2"
    proc = _run(world, tmp_path, "playbooks/failback.yml", dr_failback_delete_old_primaries=True)
    assert proc.returncode == 0, proc.stdout[-4000:]
    report = _report(tmp_path, "failback")
    steps = [s["step"] for s in report["steps"]]
    assert steps[:3] == ["preflight", "declare", "rebuild_databases"], steps
    # who ran it: the credentials' check, read beside the home region's probe
    assert re.fullmatch(r"\d{12}", report["steps"][0]["detail"]["account"]), report["steps"][0]["detail"]
    shift = next(s for s in report["steps"] if s["step"] == "traffic_shift")
    assert shift["outcome"] == "changed", shift  # traffic came home by weights, not on its own
    after = _shape(world)
    assert sorted(after) == sorted(before)  # no resource more, none less
    for resource in before:
        assert after[resource] == before[resource], resource
    assert world.client("elasticache", "eu-west-2").describe_replication_groups()["ReplicationGroups"] == []
    assert report["outcome"] == "succeeded" and report["achieved_rto_seconds"] is not None
    assert world.edge_resolve()["region"] == "eu-west-1"
