"""The world's new replicas, snapshots and deletions take time, as on RDS (rds_replicas.py)."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from .test_world import lag_points


def _until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.05)


def _primary(world, name="lomash-a", region="eu-west-2"):
    return world.client("rds", region).create_db_instance(
        DBInstanceIdentifier=name, DBInstanceClass="db.r6g.large", Engine="postgres", MasterUsername="u",
        MasterUserPassword="not-a-secret-1", AllocatedStorage=20, BackupRetentionPeriod=7)["DBInstance"]


def _describe(world, region, name):
    return world.client("rds", region).describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]


def test_cross_region_replica_is_creating_then_available_with_lag(world):
    world.configure(rds_replica_creation_seconds=0.4, rds_replica_lag_seconds=2)
    primary = _primary(world)
    replica = world.client("rds", "eu-west-1").create_db_instance_read_replica(
        DBInstanceIdentifier="lomash-a", SourceDBInstanceIdentifier=primary["DBInstanceArn"], SourceRegion="eu-west-2",
        DBInstanceClass="db.t3.medium")["DBInstance"]
    assert replica["DBInstanceStatus"] == "creating"
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == primary["DBInstanceArn"]
    assert replica["DbiResourceId"] != primary["DbiResourceId"]
    assert lag_points(world, "lomash-a") == []  # checks eu-west-2: the primary has none
    with pytest.raises(ClientError) as err:  # a creating replica cannot be promoted
        world.client("rds", "eu-west-1").promote_read_replica(DBInstanceIdentifier="lomash-a")
    assert err.value.response["Error"]["Code"] == "InvalidDBInstanceState"
    _until(lambda: _describe(world, "eu-west-1", "lomash-a")["DBInstanceStatus"] == "available")
    assert world.lags() == {"eu-west-1": {"lomash-a": 2.0}}
    source = _describe(world, "eu-west-2", "lomash-a")
    assert source["ReadReplicaDBInstanceIdentifiers"] == [replica["DBInstanceArn"]]


def test_instant_replicas_by_default_publish_lag_0(world):
    primary = _primary(world)
    replica = world.client("rds", "eu-west-1").create_db_instance_read_replica(
        DBInstanceIdentifier="lomash-b", SourceDBInstanceIdentifier=primary["DBInstanceArn"], SourceRegion="eu-west-2",
        DBInstanceClass="db.t3.medium")["DBInstance"]
    assert replica["DBInstanceStatus"] == "available"
    assert world.lags() == {"eu-west-1": {"lomash-b": 0.0}}


def test_snapshot_creating_then_available_and_delete_with_final_snapshot(world):
    world.configure(rds_snapshot_seconds=0.3, rds_delete_seconds=0.3)
    rds = world.client("rds", "eu-west-2")
    db = _primary(world)
    snap = rds.create_db_snapshot(DBInstanceIdentifier="lomash-a", DBSnapshotIdentifier="lomash-a-final-x")["DBSnapshot"]
    assert snap["Status"] == "creating" and snap["DbiResourceId"] == db["DbiResourceId"]
    _until(lambda: rds.describe_db_snapshots(DBSnapshotIdentifier="lomash-a-final-x")["DBSnapshots"][0]["Status"] == "available")

    with pytest.raises(ClientError) as err:  # neither a final snapshot nor SkipFinalSnapshot
        rds.delete_db_instance(DBInstanceIdentifier="lomash-a")
    assert err.value.response["Error"]["Code"] == "InvalidParameterCombination"
    rds.delete_db_instance(DBInstanceIdentifier="lomash-a", FinalDBSnapshotIdentifier="lomash-a-final-y")
    assert _describe(world, "eu-west-2", "lomash-a")["DBInstanceStatus"] == "deleting"
    with pytest.raises(ClientError) as err:
        rds.delete_db_instance(DBInstanceIdentifier="lomash-a", SkipFinalSnapshot=True)
    assert err.value.response["Error"]["Code"] == "InvalidDBInstanceState"
    final = rds.describe_db_snapshots(DBSnapshotIdentifier="lomash-a-final-y")["DBSnapshots"][0]
    assert final["Status"] == "creating"

    def gone():
        return not rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": ["lomash-a"]}])["DBInstances"]
    _until(gone)
    _until(lambda: rds.describe_db_snapshots(DBSnapshotIdentifier="lomash-a-final-y")["DBSnapshots"][0]["Status"] == "available")


def test_snapshot_of_an_instance_that_is_not_available_is_refused(world):
    world.configure(rds_replica_creation_seconds=5)
    primary = _primary(world)
    world.client("rds", "eu-west-1").create_db_instance_read_replica(
        DBInstanceIdentifier="lomash-c", SourceDBInstanceIdentifier=primary["DBInstanceArn"], SourceRegion="eu-west-2",
        DBInstanceClass="db.t3.medium")
    with pytest.raises(ClientError) as err:
        world.client("rds", "eu-west-1").create_db_snapshot(DBInstanceIdentifier="lomash-c", DBSnapshotIdentifier="c1")
    assert err.value.response["Error"]["Code"] == "InvalidDBInstanceState"
