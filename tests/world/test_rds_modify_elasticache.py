"""The world's ModifyDBInstance and ElastiCache replication groups take time, as on AWS."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

REGION = "eu-west-2"


def _db(world, name="lomash-a", cls="db.t3.medium"):
    rds = world.client("rds", REGION)
    rds.create_db_instance(DBInstanceIdentifier=name, DBInstanceClass=cls, Engine="postgres",
                           MasterUsername="admin", MasterUserPassword="not-a-secret-1", AllocatedStorage=20)
    return rds


def _until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.05)


def test_class_change_applied_immediately_is_modifying_then_done(world):
    world.configure(rds_modify_seconds=0.3)
    rds = _db(world)
    answer = rds.modify_db_instance(DBInstanceIdentifier="lomash-a", DBInstanceClass="db.r6g.large",
                                    BackupRetentionPeriod=7, ApplyImmediately=True)["DBInstance"]
    assert answer["DBInstanceClass"] == "db.t3.medium"
    assert answer["PendingModifiedValues"] == {"DBInstanceClass": "db.r6g.large"}
    assert answer["BackupRetentionPeriod"] == 7  # applies at once
    now = rds.describe_db_instances(DBInstanceIdentifier="lomash-a")["DBInstances"][0]
    assert now["DBInstanceStatus"] == "modifying"
    with pytest.raises(ClientError) as err:  # a second change meanwhile is refused
        rds.modify_db_instance(DBInstanceIdentifier="lomash-a", BackupRetentionPeriod=3, ApplyImmediately=True)
    assert err.value.response["Error"]["Code"] == "InvalidDBInstanceState"

    def done():
        d = rds.describe_db_instances(DBInstanceIdentifier="lomash-a")["DBInstances"][0]
        return d["DBInstanceStatus"] == "available" and d["DBInstanceClass"] == "db.r6g.large" and not d.get("PendingModifiedValues")
    _until(done)


def test_class_change_without_apply_immediately_stays_pending(world):
    world.configure(rds_modify_seconds=0)
    rds = _db(world)
    rds.modify_db_instance(DBInstanceIdentifier="lomash-a", DBInstanceClass="db.r6g.large")
    time.sleep(0.05)
    d = rds.describe_db_instances(DBInstanceIdentifier="lomash-a")["DBInstances"][0]
    assert (d["DBInstanceStatus"], d["DBInstanceClass"]) == ("available", "db.t3.medium")
    assert d["PendingModifiedValues"] == {"DBInstanceClass": "db.r6g.large"}


def test_replication_group_creating_then_available_with_endpoint_then_deleted(world):
    world.configure(elasticache_create_seconds=0.3, elasticache_delete_seconds=0.3)
    ec = world.client("elasticache", REGION)
    group = ec.create_replication_group(ReplicationGroupId="lomash-sessions", ReplicationGroupDescription="sessions",
                                        Engine="redis", EngineVersion="7.1", CacheNodeType="cache.r6g.large",
                                        NumCacheClusters=2)["ReplicationGroup"]
    assert group["Status"] == "creating" and "PrimaryEndpoint" not in group["NodeGroups"][0]
    assert group["MemberClusters"] == ["lomash-sessions-001", "lomash-sessions-002"]
    with pytest.raises(ClientError) as err:
        ec.delete_replication_group(ReplicationGroupId="lomash-sessions")
    assert err.value.response["Error"]["Code"] == "InvalidReplicationGroupState"

    def describe():
        return ec.describe_replication_groups(ReplicationGroupId="lomash-sessions")["ReplicationGroups"][0]
    _until(lambda: describe()["Status"] == "available")
    assert describe()["NodeGroups"][0]["PrimaryEndpoint"]["Port"] == 6379
    ec.delete_replication_group(ReplicationGroupId="lomash-sessions", FinalSnapshotIdentifier="lomash-sessions-final")
    assert describe()["Status"] == "deleting"
    snaps = ec.describe_snapshots(SnapshotName="lomash-sessions-final")["Snapshots"]
    assert snaps[0]["ReplicationGroupId"] == "lomash-sessions"

    def gone():
        try:
            describe()
        except ClientError as exc:
            return exc.response["Error"]["Code"] == "ReplicationGroupNotFoundFault"
        return False
    _until(gone)


def test_unknown_subnet_group_is_refused(world):
    ec = world.client("elasticache", REGION)
    with pytest.raises(ClientError) as err:
        ec.create_replication_group(ReplicationGroupId="lomash-sessions", ReplicationGroupDescription="s",
                                    Engine="redis", CacheNodeType="cache.t4g.micro", CacheSubnetGroupName="nope")
    assert err.value.response["Error"]["Code"] == "CacheSubnetGroupNotFoundFault"
    assert ec.describe_replication_groups()["ReplicationGroups"] == []
