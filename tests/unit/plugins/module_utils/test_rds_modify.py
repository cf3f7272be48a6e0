import pytest

from ansible_collections.lomashwood.multiregion.plugins.module_utils import rds_modify as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import BatchError

from fake_aws import fake_client

REGION = "eu-west-2"
SRC = "arn:aws:rds:eu-west-1:123456789012:db:lomash-orders-prod"


def inst(name="orders", status="available", cls="db.t3.medium", retention=1, pending_class=None, source=None):
    return core.Instance("lomash-%s-prod-replica" % name, status, cls, retention, pending_class, None, source)


def world(*instances):
    return {i.name: i for i in instances}


def target(name="orders", cls=None, retention=None):
    return core.Target("lomash-%s-prod-replica" % name, cls, retention)


@pytest.mark.parametrize("entries, named", [
    ([], "instances is empty"),
    ([{"name": "lomash--x"}], "'lomash--x' is not a valid DB instance identifier"),
    ([{"name": "a", "instance_class": "r6g.large"}], "a: instance_class 'r6g.large' is not a DB instance class"),
    ([{"name": "a", "instance_class": "db.R6G.large"}], "is not a DB instance class"),
    ([{"name": "a", "instance_class": "db.serverless"}], "is not a DB instance class"),
    ([{"name": "a", "backup_retention_period": 36}], "a: backup_retention_period must be 0 to 35 days, got 36"),
    ([{"name": "a", "backup_retention_period": -1}], "got -1"),
    ([{"name": "a"}, {"name": "a"}], "duplicate DB instance identifiers: a"),
])
def test_normalise_targets_names_every_bad_value(entries, named):
    with pytest.raises(BatchError) as err:
        core.normalise_targets(entries, REGION)
    assert named in str(err.value)


def test_normalise_targets_collects_all_problems_and_applies_defaults():
    with pytest.raises(BatchError) as err:
        core.normalise_targets([{"name": "a", "instance_class": "x"}, {"name": "b", "backup_retention_period": 99}], REGION)
    assert len(err.value.problems) == 2
    got = core.normalise_targets([{"name": "a"}, {"name": "b", "instance_class": "db.r6g.large", "backup_retention_period": 3}],
                                 REGION, default_class="db.m6g.large", default_retention=7)
    assert got == [core.Target("a", "db.m6g.large", 7), core.Target("b", "db.r6g.large", 3)]


@pytest.mark.parametrize("observed, wanted, action, sends", [
    # scale and set backups: both sent
    (inst(), target(cls="db.r6g.large", retention=7), "modify", {"DBInstanceClass": "db.r6g.large", "BackupRetentionPeriod": 7}),
    # only what differs is sent
    (inst(retention=7), target(cls="db.r6g.large", retention=7), "modify", {"DBInstanceClass": "db.r6g.large"}),
    (inst(cls="db.r6g.large"), target(cls="db.r6g.large", retention=7), "modify", {"BackupRetentionPeriod": 7}),
    # already so
    (inst(cls="db.r6g.large", retention=7), target(cls="db.r6g.large", retention=7), "none", None),
    # nothing asked
    (inst(), target(), "skip", None),
    # the asked change is under way: wait, send nothing
    (inst(status="modifying", pending_class="db.r6g.large"), target(cls="db.r6g.large"), "wait", None),
    # pending for the maintenance window: apply it now
    (inst(pending_class="db.r6g.large"), target(cls="db.r6g.large"), "modify", {"DBInstanceClass": "db.r6g.large"}),
    # back to the class it has, while another is pending
    (inst(cls="db.r6g.large", pending_class="db.r6g.xlarge"), target(cls="db.r6g.large"), "modify",
     {"DBInstanceClass": "db.r6g.large"}),
    # a replica may change class (no retention asked)
    (inst(source=SRC), target(cls="db.r6g.large"), "modify", {"DBInstanceClass": "db.r6g.large"}),
])
def test_plan(observed, wanted, action, sends):
    plan = core.plan_changes([wanted], world(observed), REGION)
    assert [c.action for c in plan] == [action]
    assert plan[0].changed is (action == "modify")
    if sends is not None:
        assert core.modify_request(plan[0]) == dict(sends, DBInstanceIdentifier=observed.name, ApplyImmediately=True)


@pytest.mark.parametrize("observed, wanted, named", [
    (None, target(cls="db.r6g.large"), "lomash-orders-prod-replica: no DB instance of that name in eu-west-2"),
    (inst(source=SRC), target(retention=7), "is still a read replica of %s; backup_retention_period applies once it is promoted" % SRC),
    (inst(status="modifying", source=SRC), target(cls="db.r6g.large"), "is modifying, not available"),
    (inst(status="modifying", pending_class="db.r6g.xlarge"), target(cls="db.r6g.large"), "is modifying, not available"),
    (inst(status="backing-up"), target(retention=7), "is backing-up, not available"),
])
def test_plan_refuses_naming_the_instance(observed, wanted, named):
    with pytest.raises(BatchError) as err:
        core.plan_changes([wanted, target("auth", cls="db.r6g.large")],
                          world(*[i for i in (observed, inst("auth")) if i is not None]), REGION)
    assert named in str(err.value)
    assert "lomash-auth-prod-replica" not in str(err.value)


def test_plan_refuses_the_whole_batch_listing_every_problem():
    with pytest.raises(BatchError) as err:
        core.plan_changes([target("a", cls="db.r6g.large"), target("b", retention=7), target("c", cls="db.r6g.large")],
                          world(inst("b", source=SRC), inst("c")), REGION)
    assert len(err.value.problems) == 2


@pytest.mark.parametrize("now, done", [
    (inst(cls="db.r6g.large", retention=7), True),
    (inst(status="modifying", cls="db.t3.medium", retention=7, pending_class="db.r6g.large"), False),
    (inst(cls="db.t3.medium", retention=7, pending_class="db.r6g.large"), False),  # still pending
    (inst(cls="db.r6g.large", retention=1), False),
    (None, False),
])
def test_is_shaped(now, done):
    change = core.plan_changes([target(cls="db.r6g.large", retention=7)], world(inst()), REGION)[0]
    assert core.is_shaped(change, now) is done


def test_simulate_predicts_the_asked_shape():
    plan = core.plan_changes([target(cls="db.r6g.large", retention=7), target("auth")], world(inst(), inst("auth")), REGION)
    after = core.simulate(plan, world(inst(), inst("auth")))
    assert after["lomash-orders-prod-replica"].summary() == {
        "status": "available", "instance_class": "db.r6g.large", "pending_instance_class": None, "backup_retention_period": 7}
    assert after["lomash-auth-prod-replica"] == inst("auth")
    assert [core.outcome(c, after[c.name], False, True) for c in plan] == ["would-modify", "skipped"]


def test_describe_is_one_call_per_hundred_names_and_modify_sends_only_modify_steps():
    described = []

    def describe(**params):
        described.append(params["Filters"][0]["Values"])
        return {"DBInstances": [{"DBInstanceIdentifier": n, "DBInstanceStatus": "available",
                                 "DBInstanceClass": "db.t3.medium", "BackupRetentionPeriod": 1} for n in params["Filters"][0]["Values"]]}

    rds = fake_client("rds", describe_db_instances=describe, modify_db_instance=lambda **p: {"DBInstance": {}})
    names = ["db-%d" % i for i in range(150)]
    found = core.describe_instances(rds, names)
    assert len(found) == 150 and [len(v) for v in described] == [100, 50]
    plan = core.plan_changes([core.Target(n, "db.r6g.large" if i < 3 else None) for i, n in enumerate(names)], found, REGION)
    assert core.start_modifications(rds, plan, 4) == {}
    sent = [p for name, p in rds.calls if name == "modify_db_instance"]
    assert sorted(p["DBInstanceIdentifier"] for p in sent) == ["db-0", "db-1", "db-2"]
    assert all(p["ApplyImmediately"] is True and p["DBInstanceClass"] == "db.r6g.large" for p in sent)


def test_from_api_reads_pending_values():
    got = core.Instance.from_api({"DBInstanceIdentifier": "a", "DBInstanceStatus": "modifying", "DBInstanceClass": "db.t3.medium",
                                  "BackupRetentionPeriod": 0, "PendingModifiedValues": {"DBInstanceClass": "db.r6g.large"},
                                  "ReadReplicaSourceDBInstanceIdentifier": SRC})
    assert (got.pending_class, got.backup_retention_period, got.is_replica) == ("db.r6g.large", 0, True)


@pytest.mark.parametrize("observed, action", [
    (inst(source=SRC), "after_promotion"),  # still a replica, its promotion not begun
    (inst(status="modifying", source=SRC), "after_promotion"),  # being promoted
    (inst(status="modifying"), "after_promotion"),  # promoted, not available yet
    (inst(), "modify"),  # promoted and available: changed at once
    (inst(cls="db.r6g.large"), "none"),  # already so
    (inst(status="modifying", pending_class="db.r6g.large"), "wait"),  # its change under way (a rerun)
])
def test_plan_after_promotion_defers_what_is_not_promoted_yet(observed, action):
    plan = core.plan_changes([target(cls="db.r6g.large")], world(observed), REGION, after_promotion=True)
    assert [c.action for c in plan] == [action]
    assert plan[0].changed is (action in ("modify", "after_promotion"))


def test_without_after_promotion_an_instance_still_promoting_is_refused():
    with pytest.raises(BatchError) as err:
        core.plan_changes([target(cls="db.r6g.large")], world(inst(status="modifying", source=SRC)), REGION)
    assert "is modifying, not available" in str(err.value)


def test_is_promoted_and_what_check_mode_predicts_after_promotion():
    assert core.is_promoted(inst()) and not core.is_promoted(inst(source=SRC)) and not core.is_promoted(inst(status="modifying"))
    plan = core.plan_changes([target(cls="db.r6g.large")], world(inst(source=SRC)), REGION, after_promotion=True)
    after = core.simulate(plan, world(inst(source=SRC)))["lomash-orders-prod-replica"]
    assert (after.status, after.instance_class, after.is_replica) == ("available", "db.r6g.large", False)
    assert core.outcome(plan[0], after, False, True) == "would-modify"
