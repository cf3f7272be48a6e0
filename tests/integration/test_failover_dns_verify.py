"""failover.yml's safety refusal, its DNS step (runbook step 6) and the verify role (step 7), on the embedded edge."""

from __future__ import annotations

from .runner import mutating, run_playbook
from .test_failover_playbook import _report, _run, cluster_state, platform  # noqa: F401  # pylint: disable=unused-import
from .test_rds_promote_batch import all_promoted, no_promotion


def dns_roles(world):
    r53 = world.client("route53", "us-east-1")
    records = r53.list_resource_record_sets(HostedZoneId=world.info["route53"]["zone_id"])["ResourceRecordSets"]
    return {r["SetIdentifier"]: r["Failover"] for r in records if r["Name"] == "api.lomashwood.com."}


def wait_until_healthy(world, check_id, timeout=10):
    import time
    r53 = world.client("route53", "us-east-1")
    deadline = time.monotonic() + timeout
    while True:
        seen = r53.get_health_check_status(HealthCheckId=check_id)["HealthCheckObservations"]
        if all(o["StatusReport"]["Status"].startswith("Success") for o in seen):
            return
        assert time.monotonic() < deadline, seen
        time.sleep(0.2)


def test_refused_while_the_primary_is_healthy_and_nothing_changes(platform, tmp_path):  # noqa: F811
    world = platform
    world.region_up("eu-west-1")
    before = cluster_state(world)
    world.reset_calls()
    proc = _run(world, tmp_path)
    assert proc.returncode != 0
    out = proc.stdout
    assert "Refusing to fail over: eu-west-1 is healthy" in out
    assert "Route 53 sends api.lomashwood.com to eu-west-1 (its health check passes)" in out
    assert "its databases answer (available)" in out and "set dr_force=true" in out
    assert mutating(world.calls()) == {} and no_promotion(world) and cluster_state(world) == before
    assert not world.calls()["by_operation"].get("ssm:PutParameter")  # refused before the lock


def test_forced_with_the_primary_healthy_moves_dns_and_verifies_the_standby(platform, tmp_path):  # noqa: F811
    world = platform
    world.region_up("eu-west-1")
    proc = _run(world, tmp_path, extra_vars={"dr_force": True})
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert all_promoted(world)
    report = _report(tmp_path)
    steps = {s["step"]: s for s in report["steps"]}
    assert steps["preflight"]["detail"]["safety"]["primary_healthy"] is True
    assert steps["preflight"]["detail"]["safety"]["forced"] is True  # on purpose, and on the record
    # Route 53 had not failed over (the primary's check passes): the records are swapped.
    assert steps["dns"]["outcome"] == "changed" and steps["dns"]["detail"]["change_id"]
    assert steps["dns"]["detail"]["after"]["serving_region"] == "eu-west-2"
    assert dns_roles(world) == {"eu-west-1": "SECONDARY", "eu-west-2": "PRIMARY"}
    assert steps["verify"]["detail"]["region"] == "eu-west-2"
    assert world.edge_resolve()["region"] == "eu-west-2"
    # A rerun sends no second DNS change.
    world.reset_calls()
    assert _run(world, tmp_path, extra_vars={"dr_force": True}).returncode == 0
    assert not world.calls()["by_operation"].get("route53:ChangeResourceRecordSets")
    assert {s["step"]: s for s in _report(tmp_path)["steps"]}["dns"]["outcome"] == "ok"


def test_region_down_before_route53_noticed_moves_dns(platform, tmp_path):  # noqa: F811
    """eu-west-1 is down but its health check has not flipped yet (detection takes interval x threshold):
    the databases do not answer, so the run proceeds, and the DNS step moves the name itself."""
    world = platform
    world.region_up("eu-west-1")
    wait_until_healthy(world, world.info["route53"]["health_checks"]["api_gateway"])
    world.configure(health_check_delay_seconds=600)
    world.region_down("eu-west-1")
    proc = _run(world, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    steps = {s["step"]: s for s in _report(tmp_path)["steps"]}
    assert steps["preflight"]["detail"]["safety"]["route53_answers_from"] == "eu-west-1"
    assert "no answer" in steps["preflight"]["detail"]["safety"]["primary_databases"]
    assert steps["dns"]["outcome"] == "changed" and dns_roles(world)["eu-west-2"] == "PRIMARY"
    assert steps["verify"]["detail"]["region"] == "eu-west-2"


VERIFY_PLAY = """
- hosts: dr_controller
  gather_facts: false
  tasks:
    - ansible.builtin.import_role:
        name: lomashwood.multiregion.verify
"""


def _verify(tmp_path, **extra):
    play = tmp_path / "verify.yml"
    play.write_text(VERIFY_PLAY)
    return run_playbook(str(play), extra_vars=dict(dict(dr_verify_timeout=2, dr_verify_delay=0.5), **extra))


def test_verify_passes_when_the_edge_answers_the_region(world, k8s, tmp_path):
    world.configure(resolver_ttl_seconds=1)
    proc = _verify(tmp_path, dr_verify_region="eu-west-1")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "ok: [localhost]" in proc.stdout.split("Run the smoke tests")[1]


def test_verify_fails_saying_what_answered(world, tmp_path):
    world.configure(resolver_ttl_seconds=1)
    proc = _verify(tmp_path, dr_verify_region="eu-west-2")
    assert proc.returncode != 0
    assert "did not answer from eu-west-2 within 2 s: the last answer was HTTP 200" in proc.stdout
    assert 'region": "eu-west-1' in proc.stdout.replace("\\", ""), proc.stdout[-2000:]


def test_smoke_tests_fail_when_a_service_has_no_ready_pods(world, k8s, tmp_path):
    world.configure(resolver_ttl_seconds=1)
    import os

    from kubernetes import client, config
    api = client.AppsV1Api(config.new_client_from_config(config_file=os.environ["KUBECONFIG"], context="lomash-wood-eu-west-1"))
    api.patch_namespaced_deployment_scale("analytics-service", "lomash-wood", {"spec": {"replicas": 0}})
    try:
        proc = _verify(tmp_path, dr_verify_region="eu-west-1", dr_verify_timeout=10)
        assert proc.returncode != 0
        assert "The smoke tests failed (rc=1" in proc.stdout and "FAIL /v1/analytics/health" in proc.stdout, proc.stdout[-1500:]
    finally:
        api.patch_namespaced_deployment_scale("analytics-service", "lomash-wood", {"spec": {"replicas": 3}})
