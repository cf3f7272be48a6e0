"""A failover killed (SIGKILL) at a runbook step, then run again: the rerun finishes the job, says it
resumed, and no promotion, Secret write, restart or DNS change happens twice across the two runs.

CI kills at a representative subset of the steps; LOMASHWOOD_FULL=1 kills at every one."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest

from .runner import ROOT, ansible_env
from .test_failover_playbook import (DB_SERVICES, NAMESPACE, _report, _run, _step, platform,  # noqa: F401  # pylint: disable=unused-import
                                     secret_values)
from .test_rds_promote_batch import REPLICAS, all_promoted

FULL = os.environ.get("LOMASHWOOD_FULL") == "1"
# Kill points: a task banner (role, the start of the task's name), the kill 0.5 s after it shows.
STEPS = [("declare", "Compose the declaration"), ("redis", "Start a fresh session Redis"),
         ("promote_databases", "Promote the read replicas at once"), ("repoint_services", "Write the endpoints"),
         ("scale_services", "Scale the standby services up"), ("promote_databases", "Waiting for the promotions"),
         ("scale_databases", "Scale the promoted databases"), ("redis", "Wait for the session Redis"),
         ("stripe_webhook", "Record the start"), ("dns", "Move the name in one change"),
         ("verify", "Wait until the name answers")]
IN_CI = {("promote_databases", "Promote the read replicas at once"), ("scale_services", "Scale the standby services up"),
         ("dns", "Move the name in one change")}


def killed_at(world, tmp_path, role, task, delay=0.5):
    """Start failover.yml, SIGKILL its process group `delay` s after the banner of `role`'s task
    whose name starts with `task` appears; returns the output it printed until then."""
    cmd = [os.path.join(os.path.dirname(ansible_env()["ANSIBLE_PYTHON_INTERPRETER"]), "ansible-playbook"),
           "playbooks/failover.yml", "-i", "inventories/local", "-e", "dr_incident_id=" + world.incident]
    env = ansible_env({"LOMASHWOOD_REPORT_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"})
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    banner, seen, alive, lines = "TASK [lomashwood.multiregion.%s : %s" % (role, task), False, False, []
    timer = threading.Timer(300, os.killpg, (proc.pid, signal.SIGKILL))  # never hang the suite
    timer.start()
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(banner):
                seen = True
                time.sleep(delay)
                alive = proc.poll() is None
                os.killpg(proc.pid, signal.SIGKILL)
                break
    finally:
        timer.cancel()
        proc.wait()
    out = "".join(lines)
    assert seen, "the run never reached %s:\n%s" % (banner, out[-3000:])
    assert alive, "the run ended before the kill:\n%s" % out[-3000:]
    return out


@pytest.mark.parametrize("role,task", [pytest.param(*s, marks=() if FULL or s in IN_CI else pytest.mark.skip(
    reason="LOMASHWOOD_FULL=1 kills at every step")) for s in STEPS], ids=["%s:%s" % s for s in STEPS])
def test_killed_at_a_step_then_rerun_finishes_without_repeating_a_change(platform, tmp_path, role, task):  # noqa: F811
    world = platform
    world.configure(promotion_seconds=3)  # a promotion long enough to be killed in the middle of
    killed_at(world, tmp_path, role, task)
    again = _run(world, tmp_path)
    assert again.returncode == 0, again.stdout[-3000:]

    report = _report(tmp_path)
    assert report["outcome"] == "succeeded" and report["resumed"] is True, report
    resumed = report["resumed_steps"]  # what the rerun found done, and what it finished
    assert "preflight" in resumed["already_done"] and "verify" in resumed["already_done"] + resumed["finished_now"]
    assert all_promoted(world)
    for d in world.apps.list_namespaced_deployment(NAMESPACE).items:
        assert (d.spec.replicas, d.status.ready_replicas) == (3, 3), d.metadata.name
    rds = world.client("rds", "eu-west-2")
    for dep, svc in DB_SERVICES.items():
        address = rds.describe_db_instances(DBInstanceIdentifier="lomash-%s-prod-replica" % svc)["DBInstances"][0]["Endpoint"]["Address"]
        assert secret_values(world, dep + "-db")["DB_HOST"] == address, dep
    assert world.edge_resolve()["region"] == "eu-west-2"
    assert world.client("ssm", "eu-west-2").describe_parameters()["Parameters"] == []  # the lock released

    # Across both runs, each change happened once at most.
    aws = world.calls()["by_operation"]
    assert aws.get("rds:PromoteReadReplica", 0) == len(REPLICAS), aws
    assert aws.get("route53:ChangeResourceRecordSets", 0) == 1, aws
    assert aws.get("rds:ModifyDBInstance", 0) <= len(REPLICAS), aws
    assert aws.get("elasticache:CreateReplicationGroup", 0) <= 1, aws
    k8s = world.k8s.calls()
    assert k8s.get("k8s:eu-west-2:patch secrets", 0) <= len(DB_SERVICES), world.k8s.writes()
    assert k8s.get("k8s:eu-west-2:patch deployments", 0) <= len(DB_SERVICES) + 1, world.k8s.writes()
    assert not any(key.startswith("k8s:eu-west-1") for key in k8s), world.k8s.writes()
    steps = [s["step"] for s in report["steps"]]
    assert "dns" in steps and "verify" in steps, steps
    assert _step(report, "verify")["detail"]["region"] == "eu-west-2"
