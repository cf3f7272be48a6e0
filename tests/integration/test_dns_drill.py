"""playbooks/dns_drill.yml end to end: there and back, measured, recorded, and nothing else touched."""

from __future__ import annotations

import glob
import json
import os

import pytest

from .runner import mutating, run_playbook

NAMESPACE = "lomash-wood"


@pytest.fixture
def drill(world, k8s, tmp_path):
    if not os.environ.get("KUBECONFIG"):
        pytest.skip("needs the Kubernetes control planes: scripts/with-world.sh --k8s")
    from kubernetes import client, config
    from tests.k8s.seed import seed
    seed(os.environ["KUBECONFIG"], world.info)
    world.configure(dns_propagation_seconds=0.5, resolver_ttl_seconds=1)
    world.apis = {region: (client.AppsV1Api(api), client.CoreV1Api(api)) for region, api in (
        (r, config.new_client_from_config(config_file=os.environ["KUBECONFIG"], context="lomash-wood-" + r))
        for r in ("eu-west-1", "eu-west-2"))}
    world.log = tmp_path / "chaos-testing.md"
    world.reset_calls()
    k8s.reset_calls()
    world.k8s = k8s
    return world


def run(world, tmp_path, **kwargs):
    env = dict(LOMASHWOOD_REPORT_DIR=str(tmp_path / "reports"), LOMASHWOOD_CHAOS_LOG=str(world.log))
    extra = dict(dict(dr_incident_id="DRILL-T1"), **kwargs.pop("extra_vars", {}))
    return run_playbook("playbooks/dns_drill.yml", env=env, extra_vars=extra, **kwargs)


def state(world):
    """What the drill must leave as it found: DNS records, both regions' databases, both clusters'
    deployments (replicas and pod template) and Secrets (any write moves their resourceVersion)."""
    r53 = world.client("route53", "us-east-1")
    records = r53.list_resource_record_sets(HostedZoneId=world.info["route53"]["zone_id"])["ResourceRecordSets"]
    dbs = {}
    for region in ("eu-west-1", "eu-west-2"):
        for db in world.client("rds", region).describe_db_instances()["DBInstances"]:
            dbs[db["DBInstanceIdentifier"]] = (db["DBInstanceStatus"], db.get("ReadReplicaSourceDBInstanceIdentifier"),
                                               db["DBInstanceClass"])
    clusters = {}
    for region, (apps, core) in world.apis.items():
        clusters[region] = (
            {d.metadata.name: (d.spec.replicas, str(d.spec.template.metadata.annotations))
             for d in apps.list_namespaced_deployment(NAMESPACE).items},
            {s.metadata.name: s.metadata.resource_version for s in core.list_namespaced_secret(NAMESPACE).items})
    return records, dbs, clusters


def report(tmp_path):
    files = sorted(glob.glob(str(tmp_path / "reports" / "dns_drill-*.json")))
    assert files, "no report"
    with open(files[-1]) as f:
        return json.load(f)


def test_drill_goes_there_and_back_and_leaves_everything_as_it_was(drill, tmp_path):
    before = state(drill)
    proc = run(drill, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert state(drill) == before  # promoted nothing, wrote no Secret, the standby back at rest
    calls = mutating(drill.calls())
    assert calls["route53:ChangeResourceRecordSets"] == 2  # there and back, one change each
    assert not any(op.startswith("rds:") for op in calls) and not any("secrets" in op for op in drill.k8s.calls())
    rep = report(tmp_path)
    legs = rep["legs"]
    assert [(leg["mode"], leg["to"]) for leg in legs] == [("failover", "eu-west-2"), ("failback", "eu-west-1")]
    for leg in legs:
        # propagation 0.5 s: INSYNC after it, then the edge answers from the other region
        assert leg["changed"] and leg["insync_seconds"] >= 0.5 and leg["answered_seconds"] >= leg["insync_seconds"]
    assert rep["drill_outcome"] == "passed"
    verified = [s["detail"]["region"] for s in rep["steps"] if s["step"].startswith("verify")]
    assert verified == ["eu-west-2", "eu-west-1"]
    row = drill.log.read_text().splitlines()[-1]
    assert row.startswith("| 20") and "| DRILL-T1 | failover to eu-west-2: INSYNC" in row and "| passed |" in row
    # A second drill appends a second row.
    assert run(drill, tmp_path, extra_vars={"dr_incident_id": "DRILL-T2"}).returncode == 0
    assert [r for r in drill.log.read_text().splitlines() if r.startswith("| 20")][-2:][0].count("DRILL-T1") == 1


def test_the_report_counts_the_retries_of_every_leg(drill, tmp_path):
    """Route 53 throttled at a seeded rate: each throttled call is tried again by a module whose result the
    report reads, so the report's retries are the faults the world injected, none lost. (Each leg registers
    its move under the same name as the next one: counted from the final values alone, leg 1's retries were
    lost, and leg 2's with them once the put-back replaced it.)"""
    drill.fault_rate(0.3, "route53", kinds=["throttle"], seed=3)
    try:
        proc = run(drill, tmp_path)
    finally:
        drill.fault_rate(0, "route53")
    assert proc.returncode == 0, proc.stdout[-3000:]
    injected = drill.calls()["injected"]
    faults = sum(n for op, kinds in injected.items() if op.startswith("route53:") for n in kinds.values())
    rep = report(tmp_path)
    legs = {leg["mode"]: sum(leg["retries"].values()) for leg in rep["legs"]}
    assert legs["failover"] > 0, (legs, injected)  # the seed throttles leg 1's move: its retries must not be lost
    assert rep["retries"]["total"] == faults, (rep["retries"], injected)
    assert "Retries (transient failures tried again): %d" % faults in proc.stdout


def test_check_mode_shows_both_changes_and_touches_nothing(drill, tmp_path):
    before = state(drill)
    proc = run(drill, tmp_path, check=True, diff=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "+                failover: PRIMARY" in proc.stdout
    assert state(drill) == before and mutating(drill.calls(), drill.k8s.calls()) == {}
    assert not drill.log.exists()


def test_a_failed_drill_puts_everything_back_and_says_so(drill, tmp_path):
    from tests.k8s import cluster
    run_dir = os.path.dirname(os.environ["KUBECONFIG"])
    before = state(drill)
    cluster.set_knobs(run_dir, "eu-west-2", hold=["lomash-wood/api-gateway"])  # the standby never answers
    try:
        proc = run(drill, tmp_path, extra_vars={"dr_k8s_wait_timeout": 3})
    finally:
        cluster.set_knobs(run_dir, "eu-west-2", hold=[])
    assert proc.returncode != 0
    assert "The DNS drill failed" in proc.stdout and "api-gateway" in proc.stdout
    records, dbs, clusters = state(drill)
    assert (records, dbs) == before[:2]
    assert {n: r for n, (r, _a) in clusters["eu-west-2"][0].items()} == {n: r for n, (r, _a) in before[2]["eu-west-2"][0].items()}
    assert "| FAILED: " in drill.log.read_text().splitlines()[-1]
    assert not drill.client("ssm", "eu-west-2").describe_parameters()["Parameters"]  # the lock released


def test_refuses_to_drill_unless_the_primary_holds_the_name(drill, tmp_path):
    drill.region_down("eu-west-1")  # Route 53 answers from the standby: not the normal state
    proc = run(drill, tmp_path)
    assert proc.returncode != 0 and "Refusing to drill" in proc.stdout and "answering from eu-west-2" in proc.stdout
    assert mutating(drill.calls()) == {}  # refused before the lock too
