"""playbooks/readiness.yml on the embedded world: read-only, passes on a ready world, names each finding."""

from __future__ import annotations

import base64
import glob
import json
import os
import re

import pytest

from .runner import mutating, run_module, run_playbook
from .test_rds_promote_batch import REPLICAS

NAMESPACE = "lomash-wood"


@pytest.fixture
def ready(world, k8s):
    """The seeded world at rest (eu-west-1 up), both clusters as seeded; calls counted from here."""
    if not os.environ.get("KUBECONFIG"):
        pytest.skip("needs the Kubernetes control planes: scripts/with-world.sh --k8s")
    world.k8s = k8s
    world.reset_calls()
    k8s.reset_calls()
    return world


def _readiness(tmp_path, **extra_vars):
    proc = run_playbook("playbooks/readiness.yml", env={"LOMASHWOOD_REPORT_DIR": str(tmp_path)},
                        extra_vars=extra_vars or None)
    files = sorted(glob.glob(str(tmp_path / "readiness-*.json")))
    assert files and glob.glob(str(tmp_path / "readiness-*.md")), proc.stdout[-3000:] + proc.stderr[-2000:]
    with open(files[-1]) as f:
        return proc, json.load(f)


def _secret_values(world):
    """The database passwords in the standby's Secrets."""
    core = world.k8s.api("eu-west-2")[1]
    values = set()
    for secret in core.list_namespaced_secret(NAMESPACE).items:
        for key, value in (secret.data or {}).items():
            if "PASSWORD" in key or "TOKEN" in key.upper():
                values.add(base64.b64decode(value).decode(errors="replace"))
    assert values
    return values


def test_a_ready_world_passes_with_no_mutating_call(ready, tmp_path):
    world = ready
    proc, report = _readiness(tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert mutating(world.calls(), world.k8s.calls()) == {}
    assert report["ready"] is True and report["findings"] == [], report
    assert set(report["checks"]) == {"replicas", "backups", "classes", "permissions", "services", "node_group",
                                     "health_checks", "crr", "lock"}
    assert sorted(r["name"] for r in report["replicas"]) == sorted(REPLICAS)
    assert {r["action"] for r in report["replicas"]} == {"promote"}
    # What the emulator cannot answer is said, not passed off as checked.
    assert "classes" in report["not_checked"] and "permissions" in report["not_checked"], report["not_checked"]
    # Read-only checks report ok, not changed: the only changes are the report's directory and two files.
    assert re.search(r"localhost\s+: ok=\d+\s+changed=3\s", out), out[-600:]
    for value in _secret_values(world):
        assert value not in out  # the Secrets' values never reach the output
    md = sorted(glob.glob(str(tmp_path / "readiness-*.md")))[-1]
    assert "READY" in open(md).read()


def test_a_broken_world_fails_naming_each_finding(ready, tmp_path):
    world = ready
    rds = world.client("rds", "eu-west-2")
    rds.delete_db_instance(DBInstanceIdentifier="lomash-analytics-prod-replica", SkipFinalSnapshot=True)
    s3 = world.client("s3", "eu-west-1")
    config = s3.get_bucket_replication(Bucket="lomash-wood-media-prod")["ReplicationConfiguration"]
    for rule in config["Rules"]:
        rule["Status"] = "Disabled"
    s3.put_bucket_replication(Bucket="lomash-wood-media-prod", ReplicationConfiguration=config)
    held = run_module("failover_lock", {"region": "eu-west-2", "name": "/lomashwood/multiregion/failover-lock",
                                        "holder": "failover:INC-OTHER", "owner": "someone", "reason": "a drill"})
    assert held["changed"], held
    apps, core = world.k8s.api("eu-west-2")
    apps.delete_namespaced_deployment("analytics-service", NAMESPACE)
    core.delete_namespaced_secret("order-payment-service-db", NAMESPACE)
    world.reset_calls()
    world.k8s.reset_calls()

    proc, report = _readiness(tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert mutating(world.calls(), world.k8s.calls()) == {}
    assert report["ready"] is False
    checks = report["checks"]
    assert any("lomash-analytics-prod-replica" in f for f in checks["replicas"]), checks["replicas"]
    assert any("is Disabled, not Enabled" in f for f in checks["crr"]), checks["crr"]
    assert any("failover:INC-OTHER" in f for f in checks["lock"]), checks["lock"]
    assert "deployment analytics-service is missing in lomash-wood-eu-west-2" in checks["services"]
    assert "Secret order-payment-service-db is missing in lomash-wood-eu-west-2" in checks["services"]
    assert checks["health_checks"] == [] and checks["node_group"] == []
    # The failure names every finding.
    for finding in report["findings"]:
        assert finding in out, finding
    assert "Not ready for a failover to eu-west-2, %d finding(s)" % len(report["findings"]) in out


def test_a_missing_policy_file_is_a_finding(ready, tmp_path):
    proc, report = _readiness(tmp_path, dr_readiness_iam_policy_file=str(tmp_path / "nope.json"))
    assert proc.returncode != 0
    assert report["checks"]["permissions"] == [
        "no IAM policy at %s: the failover permissions cannot be checked" % (tmp_path / "nope.json")]
    assert mutating(ready.calls(), ready.k8s.calls()) == {}
