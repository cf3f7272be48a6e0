import pytest
from botocore.exceptions import ClientError

from ansible_collections.lomashwood.multiregion.plugins.module_utils import elasticache_redis as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import BatchError

from fake_aws import fake_client

TOKEN = "s3ssion-t0ken-for-tests-only"


def req(**kw):
    base = dict(name="lomash-sessions", node_type="cache.r6g.large")
    base.update(kw)
    return core.Request(**base)


def group(status="available", **kw):
    base = dict(name="lomash-sessions", status=status, node_type="cache.r6g.large", nodes=1,
                address="master.lomash-sessions.x.cache.amazonaws.com" if status == "available" else None,
                port=6379, at_rest_encryption=True)
    base.update(kw)
    return core.Group(**base)


@pytest.mark.parametrize("request_, named", [
    (req(name="Lomash-Sessions"), "replication_group_id 'Lomash-Sessions' is not a valid ElastiCache id"),
    (req(name="a" * 41), "is not a valid ElastiCache id"),
    (req(name="lomash--s"), "is not a valid ElastiCache id"),
    (req(node_type=None), "node_type is required with state=present"),
    (req(node_type="r6g.large"), "node_type 'r6g.large' is not a cache node type"),
    (req(engine_version="seven"), "engine_version 'seven' is not a Redis version"),
    (req(nodes=7), "num_cache_clusters must be 1 to 6"),
    (req(nodes=0), "num_cache_clusters must be 1 to 6"),
    (req(port=0), "port must be 1 to 65535, got 0"),
    (req(auth_token=TOKEN), "auth_token needs transit_encryption=true"),
    (req(auth_token="short/@", transit_encryption=True), "auth_token must be 16 to 128 printable characters"),
    (req(state="absent", node_type=None, final_snapshot_name="bad--name"), "final_snapshot_name 'bad--name' is not a valid"),
])
def test_validate_request_names_the_option(request_, named):
    problems = core.validate_request(request_)
    assert any(named in p for p in problems), problems
    assert not any(TOKEN in p or "short/@" in p for p in problems)  # never the token


@pytest.mark.parametrize("request_", [
    req(), req(engine_version="7.1", nodes=2), req(engine_version="6.x"),
    req(auth_token=TOKEN, transit_encryption=True), req(state="absent", node_type=None, final_snapshot_name="lomash-final-1"),
])
def test_validate_request_accepts(request_):
    assert core.validate_request(request_) == []


@pytest.mark.parametrize("request_, observed, action", [
    (req(), None, "create"),
    (req(), group("creating"), "wait"),
    (req(), group(), "none"),
    (req(state="absent"), None, "none"),
    (req(state="absent"), group("deleting"), "wait"),
    (req(state="absent"), group(), "delete"),
])
def test_plan(request_, observed, action):
    plan = core.plan_group(request_, observed)
    assert [s.action for s in plan] == [action]
    assert plan[0].changed is (action in ("create", "delete"))


@pytest.mark.parametrize("request_, observed, named", [
    (req(), group("deleting"), "lomash-sessions: is being deleted; run again once it is gone"),
    (req(node_type="cache.r6g.xlarge", nodes=2), group(),
     "lomash-sessions: exists with node type cache.r6g.large, not cache.r6g.xlarge, 1 node(s), not 2; this module"),
    (req(transit_encryption=True, auth_token=TOKEN), group(), "in-transit encryption off, AUTH token not set"),
    (req(state="absent"), group("creating"), "lomash-sessions: is creating; ElastiCache deletes a replication group only when"),
])
def test_plan_refuses_naming_why(request_, observed, named):
    with pytest.raises(BatchError) as err:
        core.plan_group(request_, observed)
    assert named in str(err.value)


def test_plan_carries_reference_problems():
    with pytest.raises(BatchError) as err:
        core.plan_group(req(), None, ["cache_subnet_group x: no cache subnet group of that name"])
    assert err.value.problems == ["cache_subnet_group x: no cache subnet group of that name"]


@pytest.mark.parametrize("state, observed, done", [
    ("present", group(), True),
    ("present", group("creating"), False),
    ("present", group("available", address=None), False),
    ("present", None, False),
    ("absent", None, True),
    ("absent", group("deleting"), False),
])
def test_is_done(state, observed, done):
    assert core.is_done(core.Step("lomash-sessions", "wait", state), observed) is done


def test_create_request_sends_only_what_is_set():
    one = core.create_request(req())
    assert one["NumCacheClusters"] == 1 and one["AutomaticFailoverEnabled"] is False and one["MultiAZEnabled"] is False
    assert not {"AuthToken", "EngineVersion", "CacheSubnetGroupName", "SecurityGroupIds", "Tags"} & set(one)
    two = core.create_request(req(nodes=2, engine_version="7.1", subnet_group="lomash-wood-redis", security_group_ids=("sg-1",),
                                  transit_encryption=True, auth_token=TOKEN, tags=(("Service", "sessions"),)))
    assert two["AutomaticFailoverEnabled"] is True and two["MultiAZEnabled"] is True
    assert (two["EngineVersion"], two["CacheSubnetGroupName"], two["SecurityGroupIds"], two["AuthToken"]) == (
        "7.1", "lomash-wood-redis", ["sg-1"], TOKEN)
    assert two["Tags"] == [{"Key": "Service", "Value": "sessions"}]
    assert core.delete_request(core.Step("g", "delete", "absent", "g-final")) == {"ReplicationGroupId": "g", "FinalSnapshotIdentifier": "g-final"}
    assert core.delete_request(core.Step("g", "delete", "absent")) == {"ReplicationGroupId": "g"}


def _not_found(code):
    def raise_(**_params):
        raise ClientError({"Error": {"Code": code, "Message": "not found"}}, "op")
    return raise_


def test_describe_group_reads_the_primary_endpoint_and_none_when_missing():
    desc = {"ReplicationGroupId": "lomash-sessions", "Status": "available", "CacheNodeType": "cache.r6g.large",
            "MemberClusters": ["lomash-sessions-001", "lomash-sessions-002"], "MultiAZ": "enabled",
            "NodeGroups": [{"PrimaryEndpoint": {"Address": "master.x", "Port": 6379}, "ReaderEndpoint": {"Address": "replica.x", "Port": 6379}}]}
    ec = fake_client("elasticache", describe_replication_groups=lambda **p: {"ReplicationGroups": [desc]})
    got = core.describe_group(ec, "lomash-sessions")
    assert (got.nodes, got.address, got.reader_address, got.multi_az) == (2, "master.x", "replica.x", True)
    missing = fake_client("elasticache", describe_replication_groups=_not_found("ReplicationGroupNotFoundFault"))
    assert core.describe_group(missing, "lomash-sessions") is None


def test_check_references():
    ec = fake_client("elasticache", describe_cache_subnet_groups=_not_found("CacheSubnetGroupNotFoundFault"),
                     describe_snapshots=lambda **p: {"Snapshots": [{"SnapshotName": p["SnapshotName"]}]})
    ec2 = fake_client("ec2", describe_security_groups=lambda **p: {"SecurityGroups": [{"GroupId": "sg-1"}]})
    problems = core.check_references(ec, ec2, req(subnet_group="nope", security_group_ids=("sg-1", "sg-2")), None)
    assert problems == ["cache_subnet_group nope: no cache subnet group of that name", "security_group_ids: no security group sg-2"]
    # only a create looks at the subnet and security groups; only a delete at the snapshot name
    assert core.check_references(ec, ec2, req(subnet_group="nope"), group()) == []
    taken = core.check_references(ec, ec2, req(state="absent", final_snapshot_name="s-1"), group())
    assert taken == ["final_snapshot_name s-1: a snapshot of that name exists already"]


def test_simulate_and_outcome():
    create = core.plan_group(req(), None)[0]
    after = core.simulate(create, None, req())
    assert (after.status, after.node_type, after.address) == ("available", "cache.r6g.large", None)
    assert core.outcome(create, after, False, True) == "would-create"
    delete = core.plan_group(req(state="absent"), group())[0]
    assert core.simulate(delete, group(), req(state="absent")) is None
    assert core.outcome(delete, None, False, False) == "deleted"
    assert core.outcome(delete, group("deleting"), False, False) == "pending"
