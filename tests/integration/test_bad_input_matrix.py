"""The bad input matrix (issue 11 item 4): each bad value is named, and the world is unchanged.

One parametrized case per bad input, across the modules (run alone, through the ansible CLI: the
cheap way) and the playbooks (only where the case is about a playbook). For each: the run fails,
its message names the bad value, no mutating AWS call or Kubernetes write was made (runner.mutating
on the world's call counts and the apiservers' audit logs), and the world's shape, resource by
resource with every Kubernetes object's resourceVersion (tests/world/snapshot.py), is the same
after as before.

The per-module files hold more cases of each kind; this file is the one place that checks all of
them the same way, and counts them (`pytest -q -rA` prints one line per case).
"""

from __future__ import annotations

import os
import re
import time

import pytest

from tests.world import snapshot
from tests.world.control import World

from .runner import mutating, run_module, run_playbook

REPLICAS = ["lomash-%s-prod-replica" % s for s in
            ("auth", "products", "orders", "appointments", "content", "customers", "notifications", "analytics")]
RDS = {"region": "eu-west-2", "poll_interval": 0.2, "wait_timeout": 30}
R53 = {"zone": "lomashwood.com", "record": "api.lomashwood.com", "alias": False, "ttl": 60, "mode": "failover",
       "primary": {"region": "eu-west-1", "alb": "lomash-wood-alb-euw1"},
       "standby": {"region": "eu-west-2", "alb": "lomash-wood-alb-euw2"}, "poll_interval": 0.2, "wait_timeout": 30}
NODEGROUP = {"region": "eu-west-2", "cluster_name": "lomash-wood-eu-west-2", "nodegroup_name": "lomash-wood-workers",
             "poll_interval": 0.2, "wait_timeout": 30}
LOCK = {"region": "eu-west-2", "name": "/lomashwood/multiregion/failover-lock"}
NO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
                  "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}


def kube(k8s, **kwargs):
    return dict(dict(kubeconfig=k8s.kubeconfig, context=k8s.context(), namespace="lomash-wood"), **kwargs)


# --- setups: the world made bad on purpose before the case (the shape is taken after) -------------

def promoted_by_someone_else(world, _k8s):
    rds = world.client("rds", "eu-west-2")
    rds.promote_read_replica(DBInstanceIdentifier="lomash-orders-prod-replica")
    deadline = time.monotonic() + 30
    while rds.describe_db_instances(DBInstanceIdentifier="lomash-orders-prod-replica")["DBInstances"][0][
            "DBInstanceStatus"] != "available":
        assert time.monotonic() < deadline
        time.sleep(0.2)


def hand_edited_weighted_record(world, _k8s):
    world.client("route53", "us-east-1").change_resource_record_sets(
        HostedZoneId=world.info["route53"]["zone_id"], ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": {
            "Name": "api.lomashwood.com.", "Type": "CNAME", "SetIdentifier": "manual", "Weight": 5, "TTL": 60,
            "ResourceRecords": [{"Value": "maintenance.example.org"}]}}]})


def secret_missing_its_keys(world, k8s):
    world.region_down("eu-west-1")  # the outage: past the safety refusal, to the Secrets check
    k8s.api("eu-west-2")[1].patch_namespaced_secret(
        "auth-service-db", "lomash-wood", {"data": {"DB_PASSWORD": None, "DB_USER": None}})


def half_failed_over(world, _k8s):
    """A failover that stopped after promoting three of the eight standby replicas."""
    import time  # pylint: disable=import-outside-toplevel
    rds = world.client("rds", "eu-west-2")
    for name in REPLICAS[:3]:
        rds.promote_read_replica(DBInstanceIdentifier=name)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = {db["DBInstanceIdentifier"]: db for db in rds.describe_db_instances()["DBInstances"]}
        if all(not found[name].get("ReadReplicaSourceDBInstanceIdentifier") and found[name]["DBInstanceStatus"] == "available"
               for name in REPLICAS[:3]):
            return
        time.sleep(0.2)
    raise AssertionError("the three promotions did not finish")


def standby_down(world, _k8s):
    world.region_down("eu-west-1")
    world.region_down("eu-west-2")


def primary_down(world, _k8s):
    world.region_down("eu-west-1")


# (id, kind, target, args, needles, setup); kind "module" (args: the module's), "playbook" (args:
# extra vars), "module-env"/"playbook-env" (args: (args, env)); "k8s-…" needs the clusters. Needles: all must be in the message.
CASES = [
    # --- rds_promote_batch ---
    ("promote: unknown name", "module", "rds_promote_batch",
     dict(RDS, db_instance_identifiers=REPLICAS[:2] + ["lomash-ghost-prod-replica"]), ["lomash-ghost-prod-replica"], None),
    ("promote: empty list", "module", "rds_promote_batch", dict(RDS, db_instance_identifiers=[]),
     ["db_instance_identifiers is empty"], None),
    ("promote: duplicate", "module", "rds_promote_batch", dict(RDS, db_instance_identifiers=REPLICAS + [REPLICAS[2]]),
     ["duplicate DB instance identifiers: lomash-orders-prod-replica"], None),
    ("promote: wrong region (an ARN in eu-west-1)", "module", "rds_promote_batch",
     dict(RDS, db_instance_identifiers=["arn:aws:rds:eu-west-1:123456789012:db:lomash-auth-prod"]),
     ["lomash-auth-prod is in region eu-west-1, not eu-west-2"], None),
    ("promote: region that does not exist", "module", "rds_promote_batch",
     dict(RDS, region="eu-west-9", db_instance_identifiers=REPLICAS), ["eu-west-9"], None),
    ("promote: wrong type for max_replica_lag_seconds", "module", "rds_promote_batch",
     dict(RDS, db_instance_identifiers=REPLICAS, max_replica_lag_seconds="soon"), ["max_replica_lag_seconds", "soon"], None),
    ("promote: conflicting source_region", "module", "rds_promote_batch",
     dict(RDS, db_instance_identifiers=REPLICAS, source_region="us-east-1"), ["source_region us-east-1"], None),
    ("promote: a replica already promoted by someone else", "module", "rds_promote_batch",
     dict(RDS, db_instance_identifiers=REPLICAS),
     ["lomash-orders-prod-replica: is not a read replica", "not promoted by this collection"], promoted_by_someone_else),
    ("promote: missing credentials", "module-env", "rds_promote_batch",
     (dict(RDS, db_instance_identifiers=REPLICAS), NO_CREDENTIALS), ["credentials"], None),
    # --- rds_modify_batch, rds_replica_batch, rds_retire_batch ---
    ("modify: not an instance class", "module", "rds_modify_batch",
     dict(RDS, instances=[{"name": REPLICAS[0], "instance_class": "r6g.large"}]),
     ["instance_class 'r6g.large' is not a DB instance class"], None),
    ("modify: backup retention out of range", "module", "rds_modify_batch",
     dict(RDS, instances=[{"name": REPLICAS[0], "backup_retention_period": 40}]),
     ["backup_retention_period must be 0 to 35 days, got 40"], None),
    ("replica: unknown source", "module", "rds_replica_batch",
     dict(RDS, region="eu-west-1", source_region="eu-west-2",
          replicas=[{"name": "lomash-auth-prod-failback", "source": "lomash-ghost-prod"}]), ["lomash-ghost-prod"], None),
    ("retire: source of replicas, duplicate", "module", "rds_retire_batch",
     dict(RDS, region="eu-west-1", snapshot_stamp="m1", delete=True,
          instances=[{"name": "lomash-auth-prod"}, {"name": "lomash-auth-prod"}]),
     ["duplicate DB instance identifiers: lomash-auth-prod"], None),
    # --- route53_failover ---
    ("dns: unknown zone", "module", "route53_failover", dict(R53, zone="example.org"),
     ["no public hosted zone named 'example.org'"], None),
    ("dns: unknown load balancer", "module", "route53_failover",
     dict(R53, standby={"region": "eu-west-2", "alb": "lomash-wood-alb-nowhere"}), ["'lomash-wood-alb-nowhere'"], None),
    ("dns: wrong region", "module", "route53_failover", dict(R53, standby={"region": "eu-west-9", "alb": "lomash-wood-alb-euw2"}),
     ["'eu-west-9' is not an AWS region"], None),
    ("dns: conflicting alias and ttl", "module", "route53_failover", dict(R53, alias=True, ttl=60),
     ["got ttl=60 with alias=true"], None),
    ("dns: weights all zero", "module", "route53_failover", dict(R53, mode="weighted", weights={"eu-west-1": 0, "eu-west-2": 0}),
     ["weights: all zero (eu-west-1=0, eu-west-2=0)"], None),
    ("dns: unknown health check", "module", "route53_failover",
     dict(R53, primary={"region": "eu-west-1", "alb": "lomash-wood-alb-euw1", "health_check": "no-such-check"}),
     ["'no-such-check'"], None),
    ("dns: a hand-edited weighted record", "module", "route53_failover", R53,
     ["set 'manual' points at maintenance.example.org, which is neither target"], hand_edited_weighted_record),
    # --- eks_nodegroup_scale ---
    ("nodegroup: size outside min..max", "module", "eks_nodegroup_scale", dict(NODEGROUP, desired_size=9),
     ["desired_size=9 is outside"], None),
    ("nodegroup: unknown cluster", "module", "eks_nodegroup_scale",
     dict(NODEGROUP, desired_size=3, cluster_name="lomash-wood-eu-west-9"), ["'lomash-wood-eu-west-9'"], None),
    # --- failover_lock ---
    ("lock: empty holder", "module", "failover_lock", dict(LOCK, holder="  "), ["holder must not be empty"], None),
    ("lock: ttl of 0", "module", "failover_lock", dict(LOCK, holder="failover:INC-M", ttl_seconds=0),
     ["ttl_seconds must be more than 0"], None),
    # --- elasticache_redis ---
    ("redis: not a node type", "module", "elasticache_redis",
     dict(region="eu-west-2", replication_group_id="lomash-sessions", node_type="r6g.large",
          cache_subnet_group="lomash-wood-redis"), ["node_type 'r6g.large' is not a cache node type"], None),
    # --- Kubernetes: eks_scale_services, k8s_secrets ---
    ("scale: unknown deployment", "k8s-module", "eks_scale_services",
     {"services": ["auth-service", "ghost-service"], "replicas": 3}, ["'ghost-service'"], None),
    ("scale: duplicate", "k8s-module", "eks_scale_services",
     {"services": ["api-gateway", "auth-service", "api-gateway"], "replicas": 3}, ["duplicate deployment names: api-gateway"], None),
    ("scale: empty list", "k8s-module", "eks_scale_services", {"services": [], "replicas": 3}, ["services is empty"], None),
    ("scale: wrong type", "k8s-module", "eks_scale_services", {"services": {"auth-service": "three"}},
     ["auth-service: replicas must be an integer, got 'three'"], None),
    ("scale: unknown kube context", "k8s-module", "eks_scale_services",
     {"services": ["auth-service"], "replicas": 3, "context": "lomash-wood-eu-west-9"}, ["'lomash-wood-eu-west-9'"], None),
    ("scale: unreachable kube context", "k8s-dead", "eks_scale_services",
     {"services": ["auth-service"], "replicas": 3}, ["lomash-wood-eu-west-3"], None),
    ("secrets: unknown Secret", "k8s-module", "k8s_secrets",
     {"secrets": [{"name": "ghost-db", "data": {"DB_HOST": "x.example"}}]}, ["'ghost-db'"], None),
    # --- playbooks ---
    ("failover: unknown failover mode", "playbook", "playbooks/failover.yml", {"dr_failover_mode": "gentle"},
     ["dr_failover_mode", "gentle"], primary_down),
    ("failover: duplicate replicas", "playbook", "playbooks/failover.yml",
     {"dr_rds_replicas": REPLICAS + [REPLICAS[0]]}, ["lomash-auth-prod-replica"], primary_down),
    ("failover: empty replica list", "playbook", "playbooks/failover.yml", {"dr_rds_replicas": []},
     ["dr_rds_replicas"], primary_down),
    ("failover: standby region misspelt", "playbook", "playbooks/failover.yml", {"dr_standby_region": "eu-west2"},
     ["eu-west2"], primary_down),
    ("failover: unknown replica", "playbook", "playbooks/failover.yml",
     {"dr_rds_replicas": REPLICAS[:7] + ["lomash-ghost-prod-replica"]}, ["lomash-ghost-prod-replica"], primary_down),
    ("failover: the standby is itself unhealthy", "playbook", "playbooks/failover.yml", {},
     ["the standby region eu-west-2 does not answer either", "Nothing was changed"], standby_down),
    ("failover: a Secret missing its keys", "k8s-playbook", "playbooks/failover.yml", {},
     ["'auth-service-db'", "DB_USER, DB_PASSWORD"], secret_missing_its_keys),
    ("failover: missing credentials", "playbook-env", "playbooks/failover.yml", ({}, NO_CREDENTIALS), ["credentials"],
     primary_down),
    ("failback: weights that do not rise", "playbook", "playbooks/failback.yml",
     {"dr_shift_weights": [50, 10, 100]}, ["[50, 10, 100]"], None),
    ("failback: shift to a region not in the pair", "playbook", "playbooks/failback.yml",
     {"dr_shift_to_region": "us-east-1"}, ["'us-east-1'"], None),
    # the seeded world never failed over: eu-west-2 holds read replicas, nothing promoted
    ("failback: nothing was failed over", "playbook", "playbooks/failback.yml", {},
     ["Refusing to fail back: eu-west-2 holds no promoted primaries",
      "lomash-auth-prod-replica is still a read replica of eu-west-1 (lomash-auth-prod)",
      "lomash-analytics-prod-replica is still a read replica of eu-west-1 (lomash-analytics-prod)",
      "nothing to fail back"], None),
    ("failback: the failover stopped half way", "playbook", "playbooks/failback.yml", {},
     ["Refusing to fail back: the failover did not finish - in eu-west-2, %s are promoted" % ", ".join(REPLICAS[:3]),
      "%s (of %s)" % (REPLICAS[3], REPLICAS[3].replace("-replica", "")),
      "%s (of %s) are still a read replica of eu-west-1" % (REPLICAS[-1], REPLICAS[-1].replace("-replica", "")),
      "Finish the failover first", "Nothing was changed"], half_failed_over),
    # the home region still down: its probe is the gate of preflight's reads, the refusal comes at once
    ("failback: the home region still down", "playbook", "playbooks/failback.yml", {},
     ["Refusing to fail back: eu-west-1 does not answer", "Nothing was changed"], primary_down),
    ("dns drill: unknown service", "k8s-playbook", "playbooks/dns_drill.yml", {"dr_drill_services": ["ghost-gateway"]},
     ["'ghost-gateway'"], None),
]


def _seed(world, k8s):
    world.reset()
    world.info = world.seed(lag_seconds=5)
    world.configure(promotion_seconds=1)
    if k8s:
        k8s.reset()


@pytest.fixture(scope="module")
def seeded(world_endpoint, request):
    """One seeded world (and both clusters as seeded) for the whole matrix: a refused case changes
    nothing, so the next one starts from the same world; a case that sets the world up first gets
    it seeded again after it."""
    world = World(world_endpoint)
    world.kubeconfig = os.environ.get("KUBECONFIG")
    world.k8s = request.getfixturevalue("k8s_cluster") if world.kubeconfig else None
    _seed(world, world.k8s)
    world.dirty = False
    return world


@pytest.fixture
def matrix(seeded, request):
    yield seeded
    seeded.configure(down_regions=[])
    if request.node.callspec.params["setup"] not in (None, primary_down, standby_down) or seeded.dirty:
        # the world set up on purpose (more than a region down), or the case failed
        _seed(seeded, seeded.k8s)


def _shape(world):
    down = world.config()["down_regions"]
    world.configure(down_regions=[])  # shape reads every region
    try:
        return snapshot.shape(world.endpoint, world.kubeconfig)
    finally:
        world.configure(down_regions=down)


@pytest.mark.parametrize("case, kind, target, args, needles, setup", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_named_and_the_world_is_unchanged(matrix, tmp_path, case, kind, target, args, needles, setup):
    world = matrix
    world.dirty = True  # until the last assertion passed
    if kind.startswith("k8s") and world.k8s is None:
        pytest.skip("needs the Kubernetes control planes: scripts/with-world.sh --k8s")
    if setup:
        setup(world, world.k8s)
    before = _shape(world)
    world.reset_calls()
    if world.k8s:
        world.k8s.reset_calls()
    env = {}
    if kind.endswith("-env"):
        args, env = args
    if kind.endswith("playbook") or kind.startswith("playbook"):
        proc = run_playbook(target, env=dict(env, LOMASHWOOD_REPORT_DIR=str(tmp_path),
                                             LOMASHWOOD_CHAOS_LOG=str(tmp_path / "chaos-testing.md")),
                            extra_vars=dict({"dr_incident_id": "INC-MATRIX"}, **args))
        failed, message = proc.returncode != 0, " ".join((proc.stdout + proc.stderr).split())
    else:
        if kind == "k8s-module":
            args = kube(world.k8s, **args)
        elif kind == "k8s-dead":
            path, _port = world.k8s.kubeconfig_with_dead_context(str(tmp_path / "kubeconfig"))
            args = dict(kube(world.k8s, **args), kubeconfig=path, context="lomash-wood-eu-west-3")
        res = run_module(target, args, env=env, timeout=120)
        failed, message = res.get("failed") is True, " ".join(str(res.get("msg", res["_stdout"])).split())
    assert failed, "%s: not refused: %s" % (case, message[-2000:])
    for needle in needles:
        assert needle in message, "%s: %r not in the message: %s" % (case, needle, message[-3000:])
    assert mutating(world.calls(), world.k8s.calls() if world.k8s else None) == {}
    assert _shape(world) == before
    world.dirty = False


def test_a_failback_resumed_after_it_restored_the_standby_is_not_refused(seeded, tmp_path):
    """The standby's databases as a failback leaves them (replicas again, tagged with its incident):
    a rerun of that incident passes preflight's "nothing to fail back" check (a resume), another
    incident is refused by it. Check mode: nothing changes either way."""
    world = seeded
    rds = world.client("rds", "eu-west-2")
    for db in rds.describe_db_instances()["DBInstances"]:
        rds.add_tags_to_resource(ResourceName=db["DBInstanceArn"], Tags=[{"Key": "lomashwood:failback", "Value": "INC-BACK"}])
    try:
        for incident, refused in (("INC-BACK", False), ("INC-OTHER", True)):
            proc = run_playbook("playbooks/failback.yml", check=True, extra_vars={"dr_incident_id": incident},
                                env=dict(LOMASHWOOD_REPORT_DIR=str(tmp_path)))
            out = proc.stdout + proc.stderr
            assert ("Refusing to fail back: eu-west-2 holds no promoted primaries" in out) is refused, (incident, out[-3000:])
            if not refused:
                assert re.search(r"TASK \[lomashwood.multiregion.preflight : Refuse to fail back when the standby holds no "
                                 r"promoted primaries\] \*+\nok: ", out), out[-3000:]
    finally:
        _seed(world, world.k8s)
