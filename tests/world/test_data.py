"""Database writes and replication (data.py): what a planned failover keeps, what an ungraceful one loses.

    scripts/in-netns.sh scripts/with-world.sh --k8s --seed -- python -m pytest -q tests/world/test_data.py

One seeded world for the module (seeding takes seconds); each test writes to a service of its own,
so the tests do not see each other's rows.
"""

from __future__ import annotations

import datetime as dt
import time
import urllib.error

import pytest

from tests.world import World
from tests.world.edge import DEPLOYMENTS_CACHE_SECONDS

LAG = 2.0  # every replica's ReplicaLag: small, so the waits are short
PRIMARY, STANDBY = "eu-west-1", "eu-west-2"


def wait_until(check, timeout: float = 10, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def dw(server, k8s_cluster):
    """The seeded world with Kubernetes wired in (after k8s_cluster, whose setup resets the world)."""
    world = World(server.endpoint)
    world.info = world.seed(lag_seconds=LAG)  # idempotent: on k8s_cluster's seeded world it sets the lags
    world.configure(kubeconfig=k8s_cluster.kubeconfig, resolver_ttl_seconds=0)
    yield world
    world.configure(kubeconfig=None)
    world.reset()


@pytest.fixture
def data_world(dw, k8s):
    """Per test: the Kubernetes side as seeded (eu-west-1 at 3, eu-west-2 at 0), no region down after."""
    dw.k8s = k8s
    # The edge caches each region's ready pods briefly: a reseed faster than that (a quiet machine)
    # would otherwise meet the previous test's pods.
    time.sleep(DEPLOYMENTS_CACHE_SECONDS)
    yield dw
    dw.configure(down_regions=[], promotion_seconds=None, rds_replica_lag_seconds=None)


def report(world, region: str, db: str) -> dict:
    return world.data_report()[region][db]


def markers(rows: list[dict]) -> list[str]:
    return [row["marker"] for row in rows]


def published_lag(world, replica: str, region: str = STANDBY) -> list[dict]:
    """The ReplicaLag datapoints of the last 10 minutes (each: Maximum, SampleCount)."""
    now = dt.datetime.now(dt.timezone.utc)
    return world.client("cloudwatch", region).get_metric_statistics(
        Namespace="AWS/RDS", MetricName="ReplicaLag", Period=60, Statistics=["Maximum", "SampleCount"],
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": replica}],
        StartTime=now - dt.timedelta(minutes=10), EndTime=now + dt.timedelta(minutes=1))["Datapoints"]


def promote(world, db: str) -> None:
    rds = world.client("rds", STANDBY)
    rds.promote_read_replica(DBInstanceIdentifier=db)
    wait_until(lambda: rds.describe_db_instances(DBInstanceIdentifier=db)["DBInstances"][0].get("StatusInfos") is None
               and rds.describe_db_instances(DBInstanceIdentifier=db)["DBInstances"][0]["DBInstanceStatus"] == "available",
               what=f"{db} promoted")


def test_writes_land_in_the_primary_and_the_replica_lacks_the_last_lag_seconds(data_world):
    world = data_world
    answers = world.write_rows(["auth-1", "auth-2", "auth-3"], service="auth")
    written = time.monotonic()
    assert [status for status, _ in answers] == [201, 201, 201], answers
    assert {(b["region"], b["database"]) for _, b in answers} == {(PRIMARY, "lomash-auth-prod")}
    seqs = [b["seq"] for _, b in answers]
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    rows = world.rows(PRIMARY, "lomash-auth-prod")
    assert markers(rows)[-3:] == ["auth-1", "auth-2", "auth-3"] and [r["seq"] for r in rows[-3:]] == seqs
    assert {r["written_to"] for r in rows} == {"eu-west-1/lomash-auth-prod"}

    replica = report(world, STANDBY, "lomash-auth-prod-replica")
    assert (replica["role"], replica["source"], replica["lag_seconds"]) == ("replica", "eu-west-1/lomash-auth-prod", LAG)
    assert replica["lacks_markers"] == ["auth-1", "auth-2", "auth-3"] and replica["lacks"] == 3  # younger than LAG
    assert "auth-1" not in markers(world.rows(STANDBY, "lomash-auth-prod-replica"))

    wait_until(lambda: report(world, STANDBY, "lomash-auth-prod-replica")["lacks"] == 0, what="the replica to catch up")
    assert time.monotonic() - written >= LAG - 0.1  # not before the lag
    assert world.rows(STANDBY, "lomash-auth-prod-replica") == world.rows(PRIMARY, "lomash-auth-prod")
    status, body = world.write_row("auth-4", service="auth")
    assert status == 201 and body["seq"] == seqs[-1] + 1
    assert report(world, STANDBY, "lomash-auth-prod-replica")["lacks_markers"] == ["auth-4"]
    # The writers run: the published lag is the configured one, as before.
    assert [(p["Maximum"], p["SampleCount"]) for p in published_lag(world, "lomash-auth-prod-replica")] == [(LAG, 1)]


def test_stopped_writers_refuse_writes_drain_the_lag_and_a_planned_promotion_loses_nothing(data_world):
    world, k8s = data_world, data_world.k8s
    answers = world.write_rows([f"products-{i}" for i in range(5)], service="products")
    assert {status for status, _ in answers} == {201}
    assert report(world, STANDBY, "lomash-products-prod-replica")["lacks"] == 5
    k8s.scale(["product-service"], 0, region=PRIMARY)
    status, body = wait_until(lambda: (a := world.write_row("late", service="products"))[0] != 201 and a,
                              what="writes to be refused")
    assert (status, body) == (503, {"region": PRIMARY, "error": "product-service has 0 ready pods"})

    seen = []  # (lag in the report, lag published) until both are 0
    def drained():
        lag = report(world, STANDBY, "lomash-products-prod-replica")["lag_seconds"]
        points = published_lag(world, "lomash-products-prod-replica")
        assert len(points) == 1 and points[0]["SampleCount"] == 1, points  # older datapoints dropped
        seen.append((lag, points[0]["Maximum"]))
        return lag == 0 and points[0]["Maximum"] == 0
    wait_until(drained, timeout=LAG + 3, what="the lag to drain")
    published = [p for _, p in seen]
    assert published == sorted(published, reverse=True), seen  # it only goes down...
    assert any(0 < p < LAG for p in published), seen  # ...linearly, not in one step
    replica = report(world, STANDBY, "lomash-products-prod-replica")
    assert (replica["lacks"], replica["writers_stopped_for"] >= LAG - 0.3) == (0, True), replica
    assert world.rows(STANDBY, "lomash-products-prod-replica") == world.rows(PRIMARY, "lomash-products-prod")
    # Only that service stopped writing: another replica keeps its lag.
    assert report(world, STANDBY, "lomash-auth-prod-replica")["lag_seconds"] == LAG
    assert published_lag(world, "lomash-auth-prod-replica")[0]["Maximum"] == LAG

    written = world.rows(PRIMARY, "lomash-products-prod")  # the five, and any "late" one in before the pods went
    promote(world, "lomash-products-prod-replica")
    promoted = report(world, STANDBY, "lomash-products-prod-replica")
    assert (promoted["role"], promoted["lacks"], promoted["rows"]) == ("promoted", 0, len(written)), promoted
    assert world.rows(STANDBY, "lomash-products-prod-replica") == written


def test_an_ungraceful_promotion_freezes_what_the_replica_held_and_failback_replicates_from_it(data_world):
    world, k8s = data_world, data_world.k8s
    world.write_rows(["orders-old-1", "orders-old-2"])
    wait_until(lambda: report(world, STANDBY, "lomash-orders-prod-replica")["lacks"] == 0, what="the replica to catch up")
    assert {s for s, _ in world.write_rows(["orders-new-1", "orders-new-2"])} == {201}
    world.region_down(PRIMARY)
    assert world.write_row("orders-never", via=PRIMARY)[0] == 0  # a dead region does not answer
    time.sleep(LAG + 0.3)
    # Nothing replicates out of a dead region: the last LAG seconds stay missing, the lag does not drain.
    replica = report(world, STANDBY, "lomash-orders-prod-replica")
    assert (replica["lacks_markers"], replica["lag_seconds"]) == (["orders-new-1", "orders-new-2"], LAG), replica
    assert published_lag(world, "lomash-orders-prod-replica")[0]["Maximum"] == LAG

    world.configure(promotion_seconds=1.5)
    world.client("rds", STANDBY).promote_read_replica(DBInstanceIdentifier="lomash-orders-prod-replica")
    assert report(world, STANDBY, "lomash-orders-prod-replica")["role"] == "promoting"
    world.region_up(PRIMARY)
    assert world.write_row("orders-split", via=PRIMARY)[0] == 201  # the old primary, back: not in the promoted one
    promote_done = lambda: report(world, STANDBY, "lomash-orders-prod-replica")["role"] == "promoted"  # noqa: E731
    wait_until(promote_done, what="the promotion to complete")
    promoted = report(world, STANDBY, "lomash-orders-prod-replica")
    assert promoted["lacks_markers"] == ["orders-new-1", "orders-new-2", "orders-split"], promoted
    held = world.rows(STANDBY, "lomash-orders-prod-replica")
    assert markers(held) == ["orders-old-1", "orders-old-2"]

    # eu-west-2 takes the writes now: the promoted database goes on from its last row.
    k8s.scale(["api-gateway", "order-payment-service"], 1, region=STANDBY)
    status, body = wait_until(lambda: (a := world.write_row("orders-euw2-1", via=STANDBY))[0] == 201 and a,
                              what="eu-west-2's order service to take writes")
    assert body == {"region": STANDBY, "database": "lomash-orders-prod-replica", "seq": held[-1]["seq"] + 1}

    # Failback: eu-west-1's database again, as a replica of the eu-west-2 primary. It starts with the
    # source's rows as of LAG seconds ago: the old rows, not the one just written.
    rds1 = world.client("rds", PRIMARY)
    rds1.delete_db_instance(DBInstanceIdentifier="lomash-orders-prod", SkipFinalSnapshot=True)
    wait_until(lambda: "lomash-orders-prod" not in world.data_report()[PRIMARY], what="the old primary to go")
    world.configure(rds_replica_lag_seconds=LAG)
    source_arn = world.client("rds", STANDBY).describe_db_instances(
        DBInstanceIdentifier="lomash-orders-prod-replica")["DBInstances"][0]["DBInstanceArn"]
    rds1.create_db_instance_read_replica(DBInstanceIdentifier="lomash-orders-prod", SourceDBInstanceIdentifier=source_arn,
                                         SourceRegion=STANDBY, DBInstanceClass="db.t3.medium")
    new = report(world, PRIMARY, "lomash-orders-prod")
    assert (new["role"], new["source"], new["lacks_markers"]) == (
        "replica", "eu-west-2/lomash-orders-prod-replica", ["orders-euw2-1"]), new
    assert markers(world.rows(PRIMARY, "lomash-orders-prod")) == ["orders-old-1", "orders-old-2"]  # the split row is gone
    assert world.write_row("orders-to-replica", via=PRIMARY) == (
        503, {"region": PRIMARY, "error": "read-only: lomash-orders-prod is a read replica"})
    # Failback stops the writes in eu-west-2: the new replica's lag drains (published in eu-west-1).
    k8s.scale(["order-payment-service"], 0, region=STANDBY)
    wait_until(lambda: [p["Maximum"] for p in published_lag(world, "lomash-orders-prod", PRIMARY)] == [0.0],
               timeout=LAG + 5, what="the failback replica's lag to drain")
    new = report(world, PRIMARY, "lomash-orders-prod")
    assert (new["lacks"], new["lag_seconds"]) == (0, 0), new
    assert world.rows(PRIMARY, "lomash-orders-prod") == world.rows(STANDBY, "lomash-orders-prod-replica")


def test_a_write_to_a_read_replica_region_is_refused(data_world):
    world, k8s = data_world, data_world.k8s
    assert world.write_row("content-1", service="content", via=STANDBY) == (
        503, {"region": STANDBY, "error": "api-gateway has 0 ready pods"})  # eu-west-2 at rest: no pods
    k8s.scale(["api-gateway", "content-service"], 1, region=STANDBY)
    refused = (503, {"region": STANDBY, "error": "read-only: lomash-content-prod-replica is a read replica"})
    wait_until(lambda: world.write_row("content-2", service="content", via=STANDBY) == refused,
               what="eu-west-2's content service up, its database read-only")
    world.region_down(PRIMARY)  # the edge fails over to eu-west-2 before anything is promoted
    assert world.write_row("content-3", service="content") == refused
    assert world.data_report()[STANDBY]["lomash-content-prod-replica"]["rows"] == 0
    world.region_up(PRIMARY)
    assert world.write_row("content-4", service="content")[0] == 201
    assert world.write_row("x", service="nope")[0] == 404
    assert world.write_row("x" * 201, service="content")[0] == 400
    with pytest.raises(urllib.error.HTTPError) as err:
        world.rows(PRIMARY, "lomash-nothing-prod")
    assert err.value.code == 400
