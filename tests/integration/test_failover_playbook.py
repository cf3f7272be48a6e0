"""playbooks/failover.yml end to end on the embedded world, as an operator runs it."""

from __future__ import annotations

import base64
import glob
import re
import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from tests.world.slack import start_slack

from .runner import BIN, ROOT, ansible_env, mutating, run_playbook
from .test_rds_promote_batch import REPLICAS, all_promoted, describe, no_promotion

NAMESPACE = "lomash-wood"
DB_SERVICES = {"auth-service": "auth", "product-service": "products", "customer-service": "customers",
               "content-service": "content", "notification-service": "notifications",
               "order-payment-service": "orders", "appointment-service": "appointments",
               "analytics-service": "analytics"}
SERVICES = sorted(DB_SERVICES) + ["api-gateway"]


@pytest.fixture
def platform(world, k8s):
    """The seeded AWS world plus both Kubernetes clusters seeded (eu-west-2 at 0 replicas)."""
    kubeconfig = os.environ.get("KUBECONFIG")
    if not kubeconfig:
        pytest.skip("needs the Kubernetes control planes: scripts/with-world.sh --k8s")
    from kubernetes import client, config
    from tests.k8s.seed import seed
    seed(kubeconfig, world.info)
    world.reset_calls()
    api = config.new_client_from_config(config_file=kubeconfig, context="lomash-wood-eu-west-2")
    world.apps = client.AppsV1Api(api)
    world.core = client.CoreV1Api(api)
    world.incident = "INC-" + uuid.uuid4().hex[:8]
    world.k8s = k8s
    # The outage a failover is for (the safety refusal stops one while the primary is healthy),
    # and a resolver that caches for 1 s instead of the record's 60.
    world.region_down("eu-west-1")
    world.configure(resolver_ttl_seconds=1)
    return world


def cluster_state(w):
    """resourceVersion of every deployment and Secret: any write changes one."""
    deps = {d.metadata.name: d.metadata.resource_version for d in w.apps.list_namespaced_deployment(NAMESPACE).items}
    secs = {s.metadata.name: s.metadata.resource_version for s in w.core.list_namespaced_secret(NAMESPACE).items}
    return deps, secs


def secret_values(w, name):
    data = w.core.read_namespaced_secret(name, NAMESPACE).data
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def _run(world, tmp_path, *args, **kwargs):
    env = dict(kwargs.pop("env", {}), LOMASHWOOD_REPORT_DIR=str(tmp_path))
    extra = dict({"dr_incident_id": getattr(world, "incident", "INC-T1")}, **kwargs.pop("extra_vars", {}))
    return run_playbook("playbooks/failover.yml", *args, env=env, extra_vars=extra, **kwargs)


def _report(tmp_path):
    files = sorted(glob.glob(str(tmp_path / "failover-*.json")))
    assert files, "no JSON report written"
    with open(files[-1]) as f:
        return json.load(f)


def _step(report, name):
    return next(s for s in report["steps"] if s["step"] == name)


def test_failover_with_the_primary_region_down(platform, tmp_path):
    world = platform
    generations = {d.metadata.name: d.metadata.generation for d in world.apps.list_namespaced_deployment(NAMESPACE).items}
    world.region_down("eu-west-1")
    world.configure(rds_modify_seconds=3)  # a class change long enough to be seen waiting on
    world.k8s.reset_calls()
    slack = start_slack()
    try:
        proc = _run(world, tmp_path, env={"SLACK_WEBHOOK_URL": slack.webhook_url},
                    extra_vars={"dr_reason": "eu-west-1 outage", "dr_confirm_region": "eu-west-2"})
    finally:
        slack.stop()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    # Declared in #incidents at the start and at the end (with the achieved RTO); the webhook URL, a
    # secret, never in the output.
    assert [m["text"].splitlines()[0] for m in slack.messages] == [
        "REGIONAL FAILOVER INITIATED — eu-west-1 → eu-west-2", "REGIONAL FAILOVER ENDED — eu-west-1 → eu-west-2"]
    assert "Reason: eu-west-1 outage" in slack.messages[0]["text"] and "Achieved RTO" in slack.messages[1]["text"]
    assert slack.webhook_url.rsplit("/", 1)[1] not in proc.stdout + proc.stderr
    # The Kubernetes writes: one PATCH per Secret (its DB_HOST and DB_PORT), one per deployment
    # (0 -> 3 with the Secrets' digest), nothing in eu-west-1.
    assert mutating(None, world.k8s.calls()) == {"k8s:eu-west-2:patch secrets": 8,
                                                 "k8s:eu-west-2:patch deployments": 9}, world.k8s.writes()
    assert all_promoted(world)
    assert "Waiting for the promotions" in proc.stdout  # the operator sees what it waits for
    # ... and, while it waits, what is done and what is pending, never an alarming retry counter
    assert "FAILED - RETRYING" not in proc.stdout
    # (which wait lasts long enough to print depends on the machine: the rollouts, the promotions, the class
    # changes and DNS run beside one another; each line's form is tested with its module)
    assert re.search(r"^[\w ]+: \d+/\d+ [^;]*; \d+s so far$", proc.stdout, re.M), \
        [line for line in proc.stdout.splitlines() if "so far" in line]
    assert re.search(r"^step promote_databases: changed in [\d.]+ s \(run ", proc.stdout, re.M)
    # step 3: every standby service at 3 ready replicas
    for d in world.apps.list_namespaced_deployment(NAMESPACE).items:
        assert (d.spec.replicas, d.status.ready_replicas, d.status.available_replicas) == (3, 3, 3), d.metadata.name
    # step 4: every Secret points at its promoted database in eu-west-2, and was restarted onto it
    rds = world.client("rds", "eu-west-2")
    for dep, svc in DB_SERVICES.items():
        values = secret_values(world, dep + "-db")
        endpoint = rds.describe_db_instances(DBInstanceIdentifier="lomash-%s-prod-replica" % svc)["DBInstances"][0]["Endpoint"]
        assert (values["DB_HOST"], values["DB_PORT"]) == (endpoint["Address"], str(endpoint["Port"])), dep
        assert values["DB_PASSWORD"]  # the rest of the Secret is kept
    report = _report(tmp_path)
    # The Secrets are written before the scale-up, so the pods start on them: no restart round.
    assert [s["step"] for s in report["steps"]] == ["preflight", "repoint_services", "declare", "scale_services", "promote_databases",
                                                    "redis", "stripe_webhook", "scale_databases", "dns", "verify"]
    step = {s["step"]: s for s in report["steps"]}
    assert step["stripe_webhook"]["outcome"] == "ok" and step["stripe_webhook"]["detail"]["reason"].startswith("no change: the webhook uses the global domain")
    # Route 53 had failed over on its own (the primary's health check fails): the records are swapped
    # anyway, pinning traffic to eu-west-2 for when eu-west-1 answers again, and the report says so.
    assert step["dns"]["outcome"] == "changed" and step["dns"]["detail"]["auto_failed_over"] is True
    assert "already failed over on its own" in step["dns"]["detail"]["reason"]
    assert "made eu-west-2 the PRIMARY, so traffic stays there" in step["dns"]["detail"]["reason"]
    assert step["dns"]["detail"]["after"]["primary_role_region"] == "eu-west-2"
    assert step["verify"]["detail"]["region"] == "eu-west-2" and step["verify"]["outcome"] == "ok"
    assert "smoke tests passed: 9 of 9 from eu-west-2" in step["verify"]["detail"]["smoke_test_output"]
    assert step["preflight"]["detail"]["safety"]["primary_healthy"] is False
    assert sorted(step["repoint_services"]["detail"]["secrets_changed"]) == sorted(d + "-db" for d in DB_SERVICES)
    scaled = step["scale_services"]["detail"]
    assert scaled["restarted"] == []
    assert {r["action"] for r in scaled["results"]} == {"scale-and-restart"}  # 0 -> 3 with the Secrets' digest
    for d in world.apps.list_namespaced_deployment(NAMESPACE).items:
        assert d.metadata.generation == generations[d.metadata.name] + 1, d.metadata.name  # one write each: one rollout
    # Databases to production shape: every promoted instance db.t3.medium -> db.r6g.large, one shared wait,
    # and 7 days of backups set with the promotion.
    assert step["scale_databases"]["outcome"] == "changed"
    assert step["scale_databases"]["detail"]["api_calls"]["ModifyDBInstance"] == 8
    for name in REPLICAS:
        db = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
        assert (db["DBInstanceClass"], db["BackupRetentionPeriod"], db["DBInstanceStatus"]) == ("db.r6g.large", 7, "available"), name
    # A fresh session Redis in eu-west-2, its endpoint in the report; the sessions' loss said.
    redis = step["redis"]["detail"]
    assert redis["endpoint"]["address"] and redis["status"] == "available"
    assert "sessions held in eu-west-1 are lost" in redis["reason"]
    groups = world.client("elasticache", "eu-west-2").describe_replication_groups()["ReplicationGroups"]
    assert [(g["ReplicationGroupId"], g["Status"]) for g in groups] == [("lomash-wood-sessions", "available")]
    assert report["rpo_estimate_seconds"] == 5.0
    # S3's backlog is not waited for in a region that is down: the report says what that means
    assert report["rpo"]["s3"].startswith("not read: eu-west-1 does not answer"), report["rpo"]
    assert (report["mode"], report["forced"], report["outcome"], report["resumed"]) == ("ungraceful", False, "succeeded", False)
    # Achieved RTO ends when the API answered from eu-west-2, before the report; the projection puts
    # each waiting step at its real time (promotion 600 s): far above what the emulator took.
    assert 0 < report["achieved_rto_seconds"] <= report["wall_seconds"]
    assert report["projected_rto_seconds"] >= report["achieved_rto_seconds"] + 600 - 60
    assert report["changed"] == ["repoint_services", "scale_services", "promote_databases", "redis", "scale_databases", "dns"]
    assert "playbooks/failover.yml" in report["resume_command"]
    assert "-e dr_incident_id=%s" % world.incident in report["resume_command"]
    promoted = step["promote_databases"]["detail"]["results"]
    assert sorted(r["name"] for r in promoted) == sorted(REPLICAS)
    assert {r["outcome"] for r in promoted} == {"promoted"}
    md = sorted(glob.glob(str(tmp_path / "failover-*.md")))[-1]
    assert "| lomash-orders-prod-replica | promoted | 5.0 |" in open(md).read()
    # the lock is released at the end
    ssm = world.client("ssm", "eu-west-2")
    assert ssm.describe_parameters()["Parameters"] == []


def test_class_changes_after_verify_are_off_the_path_to_the_answer(platform, tmp_path):
    """dr_rds_scale_after_verify: the class changes start once the promotions are done and are waited for
    after verify; the projected RTO (the seed's real step times) then holds no class change."""
    world = platform
    world.region_down("eu-west-1")
    world.configure(rds_modify_seconds=3)
    real = {"promote_databases": 240, "scale_services": 60, "scale_databases": 900, "dns": 60}
    proc = _run(world, tmp_path, extra_vars={"dr_rds_scale_after_verify": True, "dr_real_step_seconds": real})
    assert proc.returncode == 0, proc.stdout[-3000:]
    report = _report(tmp_path)
    order = [s["step"] for s in report["steps"]]
    assert order[-2:] == ["verify", "scale_databases"], order
    step = {s["step"]: s for s in report["steps"]}
    # started before DNS moved (right after the promotions), so it overlaps dns and verify
    assert step["scale_databases"]["started"] < step["dns"]["started"] < step["verify"]["ended"] < step["scale_databases"]["ended"]
    assert "dr_rds_scale_after_verify" in step["scale_databases"]["detail"]["reason"]
    rds = world.client("rds", "eu-west-2")
    for name in REPLICAS:  # the classes still land, before the run ends
        db = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
        assert (db["DBInstanceClass"], db["DBInstanceStatus"]) == ("db.r6g.large", "available"), name
    # Projected: the promotion's shortfall (the scale-up ran under it) and DNS's, no class change.
    promote, dns = (float(step[n]["ended"]) - float(step[n]["started"]) for n in ("promote_databases", "dns"))
    added = report["projected_rto_seconds"] - report["achieved_rto_seconds"]
    assert (240 - promote) + (60 - dns) - 1 <= added <= 240 + 60 + 5, (added, promote, dns)
    assert report["projected_rto_seconds"] <= 360  # the 6 minutes, on this run's own overheads


def test_rerun_after_success_changes_nothing(platform, tmp_path):
    world = platform
    # The first run with a new interpreter for each module, the rerun warm (as the inventories set it):
    # the same run either way (docs/performance.md).
    assert _run(world, tmp_path, env={"LOMASHWOOD_WARM_PYTHON": "0"}).returncode == 0
    world.reset_calls()
    world.k8s.reset_calls()
    before = cluster_state(world)
    proc = _run(world, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    # Every write of every service and both Kubernetes API servers: taking and releasing the lock
    # (the run's own bookkeeping), and nothing else. k8s_secrets compares before it writes, so
    # the Secrets that already hold the endpoints get no PATCH (kubernetes.core.k8s sent 8).
    assert mutating(world.calls(), world.k8s.calls()) == {"ssm:PutParameter": 1, "ssm:DeleteParameter": 1}, \
        world.k8s.writes()
    assert "already-promoted" in proc.stdout
    assert cluster_state(world) == before  # no scale, no Secret write, no restart
    report = _report(tmp_path)
    assert (_step(report, "repoint_services")["detail"]["secrets_changed"], _step(report, "scale_services")["detail"]["restarted"]) == ([], [])


def test_check_mode_prints_the_plan_and_changes_nothing(platform, tmp_path):
    world = platform
    before = cluster_state(world)
    proc = _run(world, tmp_path, check=True, diff=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "would-promote" in proc.stdout
    assert "+        read_replica_source: null" in proc.stdout
    calls = world.calls()["by_operation"]
    assert mutating(world.calls()) == {}
    assert not calls.get("ssm:PutParameter") and not calls.get("ssm:DeleteParameter")
    assert no_promotion(world)
    assert cluster_state(world) == before


def test_secrets_never_reach_the_output_even_at_vvv(platform, tmp_path):
    world = platform
    passwords = [secret_values(world, d + "-db")["DB_PASSWORD"] for d in DB_SERVICES]
    proc = _run(world, tmp_path, verbosity=3)
    assert proc.returncode == 0, proc.stdout[-3000:]
    out = proc.stdout + proc.stderr
    assert "censored" in out  # the Secret task ran, hidden
    for pw in passwords:
        assert pw not in out and base64.b64encode(pw.encode()).decode() not in out
    for report in glob.glob(str(tmp_path / "*")):
        text = open(report).read()
        assert not any(pw in text for pw in passwords)


def test_run_killed_mid_rollout_is_finished_by_the_next_run(platform, tmp_path):
    world = platform
    from tests.k8s import cluster
    run_dir = os.path.dirname(os.environ["KUBECONFIG"])
    cluster.set_knobs(run_dir, "eu-west-2", pod_start_delay=2)
    try:
        cmd = [os.path.join(BIN, "ansible-playbook"),
               "playbooks/failover.yml", "-i", "inventories/local", "-e", "dr_incident_id=" + world.incident]
        env = ansible_env({"LOMASHWOOD_REPORT_DIR": str(tmp_path)})
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        deadline = time.monotonic() + 60
        while not any(d.spec.replicas for d in world.apps.list_namespaced_deployment(NAMESPACE).items):
            assert time.monotonic() < deadline and proc.poll() is None, "the scale-up never started"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)  # mid-rollout
        proc.wait()
        cluster.set_knobs(run_dir, "eu-west-2", pod_start_delay=0)
        again = _run(world, tmp_path)
        assert again.returncode == 0, again.stdout[-3000:]
    finally:
        cluster.set_knobs(run_dir, "eu-west-2", pod_start_delay=0)
    assert all_promoted(world)
    for d in world.apps.list_namespaced_deployment(NAMESPACE).items:
        assert (d.spec.replicas, d.status.ready_replicas) == (3, 3), d.metadata.name


def test_lag_above_rpo_stops_in_preflight_before_any_change(world, tmp_path):
    world.region_down("eu-west-1")
    world.set_lag("lomash-orders-prod-replica", 300)
    world.reset_calls()
    proc = _run(world, tmp_path)
    assert proc.returncode != 0
    assert "lomash-orders-prod-replica (300 s)" in proc.stdout
    assert mutating(world.calls()) == {}
    assert not world.calls()["by_operation"].get("ssm:PutParameter")
    assert no_promotion(world)


def test_a_second_failover_is_refused_while_one_holds_the_lock(world, tmp_path):
    world.region_down("eu-west-1")
    ssm = world.client("ssm", "eu-west-2")
    ssm.put_parameter(Name="/lomashwood/multiregion/failover-lock", Type="String",
                      Value=json.dumps({"holder": "failover:INC-OTHER", "acquired_at": "earlier"}))
    proc = _run(world, tmp_path)
    assert proc.returncode != 0
    assert "held by 'failover:INC-OTHER'" in proc.stdout
    assert no_promotion(world)


def test_local_inventory_refuses_to_run_without_the_emulator(world, tmp_path):
    env = {"AWS_ENDPOINT_URL": ""}
    proc = _run(world, tmp_path, env=env)
    assert proc.returncode != 0
    assert "AWS_ENDPOINT_URL is not set" in proc.stdout
    assert world.calls()["total"] == 0


def test_a_planned_failover_is_refused_while_the_primary_is_down(world, tmp_path):
    world.region_down("eu-west-1")
    world.reset_calls()
    proc = _run(world, tmp_path, extra_vars={"dr_failover_mode": "planned"})
    assert proc.returncode != 0
    assert "Refusing a planned failover: eu-west-1 is not healthy" in proc.stdout
    assert mutating(world.calls()) == {} and no_promotion(world)


def test_bad_failover_mode_is_named(world, tmp_path):
    proc = _run(world, tmp_path, extra_vars={"dr_failover_mode": "gentle"})
    assert proc.returncode != 0
    # The role's argument spec names it: "value of dr_failover_mode must be one of: ungraceful, planned, got: gentle"
    assert "dr_failover_mode" in proc.stdout and "got: gentle" in proc.stdout, proc.stdout[-2000:]
    assert no_promotion(world)


def test_bad_input_is_named(world, tmp_path):
    proc = _run(world, tmp_path, extra_vars={"dr_rds_replicas": REPLICAS + [REPLICAS[0]]})
    assert proc.returncode != 0
    assert "Bad input" in proc.stdout and "lomash-auth-prod-replica" in proc.stdout
    assert no_promotion(world)


def test_a_typed_confirmation_of_another_region_is_refused(world, tmp_path):
    world.region_down("eu-west-1")
    world.reset_calls()
    proc = _run(world, tmp_path, extra_vars={"dr_confirm_region": "eu-west-1"})  # the region being left
    assert proc.returncode != 0
    assert 'dr_confirm_region is "eu-west-1", but this run moves the platform to eu-west-2' in proc.stdout, \
        proc.stdout[-2000:]
    assert mutating(world.calls()) == {} and no_promotion(world)


def test_resume_by_tag_after_a_failed_wait(platform, tmp_path):
    world = platform
    world.configure(promotion_seconds=6)
    proc = _run(world, tmp_path, extra_vars={"dr_rds_wait_timeout": 1})
    assert proc.returncode != 0 and "still waiting for" in proc.stdout
    world.reset_calls()
    proc = _run(world, tmp_path, tags="promote")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert world.calls()["by_operation"].get("rds:PromoteReadReplica", 0) == 0
    # Every one promoted; some may be taking their class change already: the first run started the class changes
    # beside the promotions (an async job, each database's as soon as it is promoted), and this run (--tags promote)
    # does not wait for them.
    found = describe(world, REPLICAS)
    assert all(source is None and status in ("available", "modifying") for status, source in found.values()), found
    # The resumed run found the promotions the first one started (still running, or done by
    # now), and says so: none is promoted twice.
    promoted = [s for s in _report(tmp_path)["steps"] if s["step"] == "promote_databases"][-1]["detail"]["results"]
    assert {r["action"] for r in promoted} <= {"wait", "none"}
    assert {r["outcome"] for r in promoted} <= {"promoted", "already-promoted"} and not any(r["changed"] for r in promoted)


def test_a_failover_onto_changed_secrets_restarts_the_running_services_once(platform, tmp_path):
    world = platform
    assert _run(world, tmp_path).returncode == 0
    # One Secret gets content its running pods did not start with (a rotated password): the next
    # run restarts that service only, once; a third run restarts nothing.
    world.core.patch_namespaced_secret("auth-service-db", NAMESPACE, {"data": {"DB_PASSWORD": base64.b64encode(b"rotated").decode()}})
    proc = _run(world, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    report = _report(tmp_path)
    assert _step(report, "repoint_services")["detail"]["secrets_changed"] == []  # the endpoints were right already
    assert _step(report, "scale_services")["detail"]["restarted"] == ["auth-service"]
    assert _run(world, tmp_path).returncode == 0
    assert _step(_report(tmp_path), "scale_services")["detail"]["restarted"] == []
    # A Secret changed and changed back before anyone restarted: the pods already run on that content.
    world.core.patch_namespaced_secret("auth-service-db", NAMESPACE, {"data": {"DB_HOST": base64.b64encode(b"elsewhere").decode()}})
    assert _run(world, tmp_path).returncode == 0
    report = _report(tmp_path)
    assert _step(report, "repoint_services")["detail"]["secrets_changed"] == ["auth-service-db"]
    assert _step(report, "scale_services")["detail"]["restarted"] == []


def test_runs_whatever_home_is(platform, tmp_path):
    """A HOME that is not the passwd home (containers, CI, execution environments): the async
    promotion job and its status check must still find each other."""
    world = platform
    home = tmp_path / "home"
    home.mkdir()
    proc = _run(world, tmp_path, env={"HOME": str(home), "ANSIBLE_HOME": str(home / ".ansible")})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "could not find job" not in proc.stdout
    assert all_promoted(world)
    assert os.path.isdir(home / ".ansible" / "async")  # the job file went where both sides look
