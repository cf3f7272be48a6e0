"""The runbook under injected faults (issue 11, item 1): AWS throttling (Throttling,
RequestLimitExceeded, Route 53's PriorRequestNotComplete), 500, 503, connection resets and slow
answers (the world's fault_rates), and Kubernetes API 429, 500 and timeouts (tests/k8s/faultproxy.py,
a loopback proxy the run's kubeconfig points at), all at a seeded rate. Failover, failback and the DNS
drill still succeed; no mutating call that would do harm twice reached the world twice (each fault
is decided before the call is served, so calls minus errors are the calls served; Kubernetes writes
are read from the apiservers' audit logs); the report counts the retries.

CI runs the round trip (failover then failback) and the drill at 20 %; LOMASHWOOD_FULL=1 runs
5/10/20 % x failover, failback, drill x 2 seeds. Set LOMASHWOOD_FAULT_FIGURES=<file> to append a
JSON line per run (the figures in bench/results/)."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.k8s.faultproxy import FaultProxy

from .runner import run_playbook
from .test_dns_drill import drill, report as drill_report, state as drill_state  # noqa: F401  # pylint: disable=unused-import
from .test_failback_playbook import _report as report_of
from .test_failover_playbook import NAMESPACE, _run, platform  # noqa: F401  # pylint: disable=unused-import
from .test_rds_promote_batch import REPLICAS, all_promoted

FULL = os.environ.get("LOMASHWOOD_FULL") == "1"
RATES = tuple(float(r) for r in os.environ.get("LOMASHWOOD_FAULT_RATES", "0.05,0.10,0.20").split(","))
SEEDS = (1, 2)


def matrix(ci):
    """(rate, seed) pairs: CI runs `ci` only, LOMASHWOOD_FULL=1 every rate and seed."""
    return [pytest.param(rate, seed, id="%dpct-seed%d" % (round(rate * 100), seed),
                         marks=() if FULL or (rate, seed) == ci else pytest.mark.skip(reason="LOMASHWOOD_FULL=1 runs the matrix"))
            for rate in RATES for seed in SEEDS]


class Faults:
    """AWS faults in the world and a Kubernetes fault proxy, at one rate and seed; a kubeconfig through it."""

    def __init__(self, world, tmp_path, rate, seed):
        self.world, self.rate, self.seed = world, rate, seed
        self.proxy = FaultProxy(os.environ["KUBECONFIG"], rate=rate, seed=seed)
        self.kubeconfig = self.proxy.kubeconfig(str(tmp_path))

    def __enter__(self):
        self.world.fault_rate(self.rate, "*", seed=self.seed)
        self.proxy.configure(rate=self.rate, seed=self.seed)
        return self

    def __exit__(self, *exc):
        self.world.fault_rate(0, "*")  # off before the test reads the world (what was injected stays counted)
        self.proxy.rate = 0
        return False

    def stop(self):
        self.proxy.stop()


def served(calls):
    """Calls the world served (answered without an injected or outage error), by operation."""
    return {op: n - calls["errors"].get(op, 0) for op, n in calls["by_operation"].items()}


def injected_failures(calls):
    """AWS faults that failed a call (slow answers left out)."""
    return sum(n for kinds in calls["injected"].values() for kind, n in kinds.items() if kind != "slow")


def failures_seen(calls):
    """Every failed answer the world gave (injected, and the down region's), and the answers it lost."""
    lost = sum(kinds.get("lost", 0) for kinds in calls["injected"].values())
    return sum(calls["errors"].values()) + lost


def record(kind, rate, seed, ok, report, calls, proxy, seconds):
    path = os.environ.get("LOMASHWOOD_FAULT_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"run": kind, "rate": rate, "seed": seed, "ok": ok, "seconds": round(seconds, 1),
                                     "report_retries": (report or {}).get("retries", {}).get("total"),
                                     "aws_faults": injected_failures(calls) if calls else None,
                                     "k8s_faults": proxy.total_injected()}) + "\n")


def check_failover(world, proc, report):
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert report["outcome"] == "succeeded", report
    assert all_promoted(world)
    for d in world.apps.list_namespaced_deployment(NAMESPACE).items:
        assert (d.spec.replicas, d.status.ready_replicas) == (3, 3), d.metadata.name
    assert world.edge_resolve()["region"] == "eu-west-2"


def test_failover_under_faults(platform, tmp_path, rate, seed):  # noqa: F811
    """The failover at a fault rate: succeeds, each promotion, the DNS change batch, each Secret write
    and each deployment write served once, the retries counted in the report."""
    world = platform
    faults = Faults(world, tmp_path, rate, seed)
    started, report, calls = time.monotonic(), None, None
    try:
        world.k8s.reset_calls()
        with faults:
            proc = _run(world, tmp_path, env={"KUBECONFIG": faults.kubeconfig})
        calls = world.calls()
        report = report_of(tmp_path, "failover") if proc.returncode == 0 else None
        record("failover", rate, seed, proc.returncode == 0, report, calls, faults.proxy, time.monotonic() - started)
        check_failover(world, proc, report)
    finally:
        faults.stop()
    done = served(calls)
    assert done.get("rds:PromoteReadReplica") == len(REPLICAS), calls
    assert done.get("route53:ChangeResourceRecordSets") == 1, calls
    assert done.get("elasticache:CreateReplicationGroup") == 1, calls
    assert done.get("rds:ModifyDBInstance") == len(REPLICAS), calls
    assert world.k8s.calls() == {"k8s:eu-west-2:patch secrets": 8, "k8s:eu-west-2:patch deployments": 9}, world.k8s.writes()
    injected = injected_failures(calls) + faults.proxy.total_injected()
    if rate >= 0.1:
        assert injected > 0
    # Every retry the report counts answers a failure the world gave: an injected fault, or the down
    # primary's 503 to the brief probe, which asks again (a module's registered result may be
    # overwritten by a later task of the same name, so it can count fewer, never more).
    failures = failures_seen(calls) + faults.proxy.total_injected()
    assert 0 < report["retries"]["total"] <= failures or injected == 0, (report["retries"], failures, calls["errors"])
    assert "Retries (transient failures tried again): %d" % report["retries"]["total"] in proc.stdout


test_failover_under_faults = pytest.mark.parametrize("rate,seed", matrix(None))(test_failover_under_faults)


@pytest.mark.parametrize("rate,seed", matrix((0.20, 1)))
def test_round_trip_under_faults(platform, tmp_path, rate, seed):  # noqa: F811
    """Failover, then failback once eu-west-1 answers, both at the fault rate: both succeed; the
    failback's promotions, DNS change batches and S3 copies of the objects written in eu-west-2
    during the outage are each served once."""
    world = platform
    world.region_up("eu-west-1")
    manifest = world.outage_writes()  # objects written in eu-west-2 during the outage: failback copies them home
    world.region_down("eu-west-1")
    faults = Faults(world, tmp_path, rate, seed)
    try:
        started = time.monotonic()
        with faults:
            proc = _run(world, tmp_path, env={"KUBECONFIG": faults.kubeconfig})
        report = report_of(tmp_path, "failover") if proc.returncode == 0 else None
        record("failover", rate, seed, proc.returncode == 0, report, world.calls(), faults.proxy, time.monotonic() - started)
        check_failover(world, proc, report)
        world.region_up("eu-west-1")
        world.reset_calls()
        started = time.monotonic()
        with faults:
            proc = run_playbook("playbooks/failback.yml", extra_vars={"dr_incident_id": world.incident}, timeout=900,
                                env={"LOMASHWOOD_REPORT_DIR": str(tmp_path), "KUBECONFIG": faults.kubeconfig})
        calls = world.calls()
        back = report_of(tmp_path, "failback") if proc.returncode == 0 else None
        record("failback", rate, seed, proc.returncode == 0, back, calls, faults.proxy, time.monotonic() - started)
    finally:
        faults.stop()
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert back["outcome"] == "succeeded", back
    assert world.edge_resolve()["region"] == "eu-west-1"
    done = served(calls)
    assert done.get("rds:PromoteReadReplica") == len(REPLICAS), done  # the rebuilt home replicas, once each
    assert done.get("rds:CreateDBInstanceReadReplica", 0) == len(REPLICAS), done  # the home replicas, once each
    # failover -> weighted, 10 -> 50 -> 100 %, back to failover: as in a run without faults
    assert done.get("route53:ChangeResourceRecordSets") == 4, done
    assert done.get("s3:CopyObject", 0) + done.get("s3:UploadPartCopy", 0) >= len(manifest["copy"]), done
    assert done.get("s3:CopyObject", 0) <= len(manifest["copy"]), done  # no copy of a changed object twice
    assert back["retries"]["total"] > 0 or injected_failures(calls) + faults.proxy.total_injected() == 0


@pytest.mark.parametrize("rate,seed", matrix((0.20, 1)))
def test_drill_under_faults(drill, tmp_path, rate, seed):  # noqa: F811
    """The DNS drill at the fault rate: there and back, verified, everything as it was; two DNS changes."""
    world = drill
    before = drill_state(world)
    faults = Faults(world, tmp_path, rate, seed)
    try:
        started = time.monotonic()
        with faults:
            proc = run_playbook("playbooks/dns_drill.yml", extra_vars={"dr_incident_id": "DRILL-F%d" % seed},
                                env={"LOMASHWOOD_REPORT_DIR": str(tmp_path / "reports"), "LOMASHWOOD_CHAOS_LOG": str(world.log),
                                     "KUBECONFIG": faults.kubeconfig})
        calls = world.calls()
        rep = drill_report(tmp_path) if proc.returncode == 0 else None
        record("dns_drill", rate, seed, proc.returncode == 0, rep, calls, faults.proxy, time.monotonic() - started)
    finally:
        faults.stop()
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert rep["outcome"] == "succeeded" and rep["drill_outcome"] == "passed", rep
    assert served(calls).get("route53:ChangeResourceRecordSets") == 2, calls
    after = drill_state(world)
    assert after[0] == before[0] and after[1] == before[1]  # the records and databases as they were
    assert {r: c[0] for r, c in after[2].items()} == {r: c[0] for r, c in before[2].items()}  # deployments as they were
