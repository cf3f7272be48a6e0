"""playbooks/failover.yml through ansible-runner, the way AWX runs a job template.

AWX (and Automation Controller) does not call ansible-playbook with a terminal: it lays out a
private data dir (project/, inventory/, env/extravars, env/envvars, env/passwords, the
collections it installed), runs it with ansible_runner and builds the job output from the events
of its own stdout callback, awx_display. This runs the failover that way against the embedded
world and checks the same outcome and report as the ansible-playbook run of
test_failover_playbook.py, and that the progress callback's lines (what a wait waits for, each
step's time) reach the events' stdout, which is what AWX shows.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess

import pytest

from .runner import BIN, ROOT, mutating
from .test_failover_playbook import DB_SERVICES, NAMESPACE, platform, secret_values  # noqa: F401 pylint: disable=unused-import
from .test_rds_promote_batch import REPLICAS, all_promoted

ansible_runner = pytest.importorskip("ansible_runner")

# The report's steps and changes of a failover with eu-west-1 down, as test_failover_playbook.py
# expects them of the ansible-playbook run.
STEPS = ["preflight", "repoint_services", "declare", "scale_services", "promote_databases",
         "redis", "stripe_webhook", "scale_databases", "dns", "verify"]
CHANGED = ["repoint_services", "scale_services", "promote_databases", "redis", "scale_databases", "dns"]
# What the job needs from its environment, and AWX would inject (credentials, the endpoints).
PASSED_ENV = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
              "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED",
              "AWS_DEFAULT_REGION", "KUBECONFIG", "LOMASH_EDGE_URL")


def project_files():
    """The files a project checkout holds: tracked ones and new ones not ignored."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                         capture_output=True, check=True).stdout.decode()
    return [p for p in out.split("\0") if p and os.path.isfile(os.path.join(ROOT, p))]


def private_data_dir(base, extravars, envvars):
    """A private data dir as AWX writes one for a job: the project checkout, the inventory, env/,
    and the collections it installed from the project's requirements (here: linked)."""
    pdd = base / "pdd"
    project = pdd / "project"
    for rel in project_files():
        dest = project / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.join(ROOT, rel), dest)
    shutil.copytree(os.path.join(ROOT, "inventories", "local"), pdd / "inventory")
    collections = pdd / "requirements_collections" / "ansible_collections"
    deps = os.path.join(ROOT, "collections", "ansible_collections")
    for namespace in os.listdir(deps):
        for name in os.listdir(os.path.join(deps, namespace)):
            if namespace == "lomashwood":
                continue
            (collections / namespace).mkdir(parents=True, exist_ok=True)
            os.symlink(os.path.realpath(os.path.join(deps, namespace, name)), collections / namespace / name)
    (collections / "lomashwood").mkdir(parents=True)
    os.symlink(project, collections / "lomashwood" / "multiregion")
    env = pdd / "env"
    env.mkdir()
    (env / "extravars").write_text(json.dumps(extravars))
    (env / "envvars").write_text(json.dumps(dict(envvars, ANSIBLE_COLLECTIONS_PATH=str(pdd / "requirements_collections"))))
    (env / "passwords").write_text(json.dumps({}))
    (env / "settings").write_text(json.dumps({"job_timeout": 900, "idle_timeout": 600}))
    return pdd


def event_stdout(runner):
    return "\n".join(e.get("stdout", "") for e in runner.events if e.get("stdout"))


def test_failover_through_ansible_runner(platform, tmp_path, monkeypatch):  # noqa: F811 pylint: disable=redefined-outer-name
    world = platform
    # Promotions that take a while, each its own time: the wait has done and pending to report
    # (job_wait prints as soon as one is done and polls every 1 s, so 8 +- 4 s is enough).
    world.configure(promotion_seconds=8, promotion_seconds_spread=4)
    world.k8s.reset_calls()
    reports = tmp_path / "reports"
    reports.mkdir()
    envvars = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    envvars.update(LOMASHWOOD_REPORT_DIR=str(reports), ANSIBLE_NOCOLOR="1")
    pdd = private_data_dir(tmp_path, {"dr_incident_id": world.incident, "dr_reason": "eu-west-1 outage"}, envvars)
    with monkeypatch.context() as m:
        # Only what the data dir gives the job: not the endpoints of the test's own environment.
        for key in ("AWS_ENDPOINT_URL", "KUBECONFIG", "LOMASH_EDGE_URL", "ANSIBLE_CONFIG", "ANSIBLE_COLLECTIONS_PATH"):
            m.delenv(key, raising=False)
        m.setenv("PATH", BIN + os.pathsep + os.environ.get("PATH", ""))
        runner = ansible_runner.run(private_data_dir=str(pdd), playbook="playbooks/failover.yml", quiet=True)
    stdout = event_stdout(runner)
    assert (runner.status, runner.rc) == ("successful", 0), stdout[-4000:]
    # AWX's own stdout callback wrote the events.
    assert runner.config.env["ANSIBLE_STDOUT_CALLBACK"] == "awx_display"
    names = {e["event"] for e in runner.events}
    assert {"playbook_on_start", "playbook_on_task_start", "runner_on_ok", "playbook_on_stats"} <= names, stdout[-4000:]
    stats = next(e for e in runner.events if e["event"] == "playbook_on_stats")["event_data"]
    assert not stats.get("failures") and not stats.get("dark"), stats

    # The same outcome as with ansible-playbook.
    assert all_promoted(world)
    assert mutating(None, world.k8s.calls()) == {"k8s:eu-west-2:patch secrets": 8,
                                                 "k8s:eu-west-2:patch deployments": 9}, world.k8s.writes()
    for d in world.apps.list_namespaced_deployment(NAMESPACE).items:
        assert (d.spec.replicas, d.status.ready_replicas) == (3, 3), d.metadata.name
    rds = world.client("rds", "eu-west-2")
    for dep, svc in DB_SERVICES.items():
        endpoint = rds.describe_db_instances(DBInstanceIdentifier="lomash-%s-prod-replica" % svc)["DBInstances"][0]["Endpoint"]
        values = secret_values(world, dep + "-db")
        assert (values["DB_HOST"], values["DB_PORT"]) == (endpoint["Address"], str(endpoint["Port"])), dep
    assert world.client("ssm", "eu-west-2").describe_parameters()["Parameters"] == []  # the lock released

    # The same report.
    files = sorted(glob.glob(str(reports / "failover-*.json")))
    assert files and sorted(glob.glob(str(reports / "failover-*.md"))), os.listdir(reports)
    with open(files[-1]) as f:
        report = json.load(f)
    assert [s["step"] for s in report["steps"]] == STEPS
    assert report["changed"] == CHANGED
    assert (report["mode"], report["forced"], report["outcome"], report["resumed"]) == ("ungraceful", False, "succeeded", False)
    step = {s["step"]: s for s in report["steps"]}
    assert step["verify"]["detail"]["region"] == "eu-west-2"
    assert {r["outcome"] for r in step["promote_databases"]["detail"]["results"]} == {"promoted"}
    assert sorted(r["name"] for r in step["promote_databases"]["detail"]["results"]) == sorted(REPLICAS)
    assert report["rpo_estimate_seconds"] == 5.0
    assert 0 < report["achieved_rto_seconds"] <= report["wall_seconds"]

    # The progress lines, in the job output AWX shows: one per step with its time, and the
    # promotions' done and pending while they are waited for.
    for name in STEPS:
        assert "step %s: " % name in stdout, name
    assert "step promote_databases: changed in " in stdout
    lines = [ln for ln in stdout.splitlines() if ln.startswith("promotions: ")]
    assert lines, stdout[-4000:]
    assert any("/8 available" in ln and "pending: " in ln for ln in lines), lines
    assert "FAILED - RETRYING" not in stdout  # no wait of the runbook is an until-loop
    # Read-only preflight checks are ok, not changed.
    changed = [e["event_data"]["task"] for e in runner.events
               if e["event"] == "runner_on_ok" and e["event_data"].get("res", {}).get("changed")
               and e["event_data"].get("role") == "preflight"]
    assert changed == ["Take the lock, so no second run starts", "Release the lock"], changed
