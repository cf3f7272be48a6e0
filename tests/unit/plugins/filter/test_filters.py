from ansible_collections.lomashwood.multiregion.plugins.filter.report import path_shortfall, step_reason, step_shortfall

REAL = {"promote_databases": 600, "dns": 60}


def test_shortfall_is_what_the_real_time_adds():
    assert step_shortfall({"step": "promote_databases", "started": 100, "ended": 130, "outcome": "changed"}, REAL) == 570


def test_a_step_slower_than_its_real_time_adds_nothing():
    assert step_shortfall({"step": "dns", "started": 0, "ended": 90.5, "outcome": "changed"}, REAL) == 0


def test_skipped_and_unlisted_steps_add_nothing():
    assert step_shortfall({"step": "dns", "started": 0, "ended": 1, "outcome": "skipped"}, REAL) == 0
    assert step_shortfall({"step": "verify", "started": 0, "ended": 1, "outcome": "ok"}, REAL) == 0
    assert step_shortfall({"step": "dns", "started": "x", "outcome": "ok"}, REAL) == 60  # unreadable times: 0 measured


def test_reason_names_the_step():
    assert step_reason({"step": "dns", "outcome": "skipped", "detail": {"reason": "already failed over"}}) == "dns: already failed over"
    assert step_reason({"step": "stripe_webhook", "outcome": "skipped", "detail": None}) == "stripe_webhook: skipped"


def test_services_on_renames_databases_and_keeps_the_rest():
    import pytest
    from ansible.errors import AnsibleFilterError
    from ansible_collections.lomashwood.multiregion.plugins.filter.runbook import services_on

    services = [{"name": "auth-service", "database": "lomash-auth-prod-replica", "secret": "auth-service-db"},
                {"name": "api-gateway"}]
    assert services_on(services, {"lomash-auth-prod-replica": "lomash-auth-prod"}) == [
        {"name": "auth-service", "database": "lomash-auth-prod", "secret": "auth-service-db"}, {"name": "api-gateway"}]
    assert services[0]["database"] == "lomash-auth-prod-replica"  # the input is not changed
    with pytest.raises(AnsibleFilterError, match="'lomash-auth-prod-replica'"):
        services_on(services, {})


def _steps(*rows):
    return [{"step": name, "started": start, "ended": end, "outcome": "changed"} for name, start, end in rows]


# A failover as failover.yml runs it: the promotion's window (10..16) holds the repoint and the scale-up;
# the class change follows it, then DNS, then verify answers at 30.
FAILOVER = _steps(("preflight", 0, 4), ("repoint_services", 10.5, 12), ("scale_services", 12, 14),
                  ("promote_databases", 10, 16), ("scale_databases", 16, 20), ("dns", 20, 23), ("verify", 23, 30))
REAL_TIMES = {"promote_databases": 240, "scale_services": 60, "scale_databases": 600, "dns": 60}


def test_path_shortfall_counts_steps_that_ran_together_once():
    # promotion 6 -> 240 (+234; the scale-up's 60 s ends inside it: nothing more), class change 4 -> 600
    # (+596), DNS 3 -> 60 (+57)
    assert path_shortfall(FAILOVER, REAL_TIMES, 30) == 234 + 596 + 57
    # the sum of each step's own shortfall counts the scale-up again, under the promotion
    assert sum(step_shortfall(s, REAL_TIMES) for s in FAILOVER) == 234 + 58 + 596 + 57


def test_a_step_longer_than_the_window_it_ran_in_adds_what_outlasts_it():
    real = dict(REAL_TIMES, scale_services=300)  # 12 + 300 ends well after the promotion's real end (10 + 240)
    # from the scale-up's own end (14) on, 312 - 14 late: the 2 s it spent waiting for the promotion's window to
    # end (14..16) count as work, an over-estimate of at most the time waited under a window
    assert path_shortfall(FAILOVER, real, 30) == (312 - 14) + 596 + 57


def test_a_step_that_ended_after_the_moment_adds_nothing_to_it():
    after_verify = _steps(("preflight", 0, 4), ("promote_databases", 10, 16), ("dns", 16, 19), ("verify", 19, 25),
                          ("scale_databases", 17, 40))  # started after the promotion, waited for once the API answered
    assert path_shortfall(after_verify, REAL_TIMES, 25) == 234 + 57
    assert path_shortfall(after_verify, REAL_TIMES) == 234 + (600 - 23)  # to the end: the class change's real end is last


def test_path_shortfall_skips_what_it_cannot_read():
    steps = FAILOVER + [{"step": "dns", "started": "x", "ended": 3}, {"step": "verify"}]
    assert path_shortfall(steps, REAL_TIMES, 30) == 234 + 596 + 57
    assert path_shortfall([], REAL_TIMES, 30) == 0 and path_shortfall(None, {}, None) == 0


def test_batch_endpoints_only_when_every_instance_has_one():
    from ansible_collections.lomashwood.multiregion.plugins.filter.runbook import batch_endpoints
    done = {"results": [{"name": "lomash-auth-prod", "address": "auth.euw1.rds", "port": 5432, "action": "create"},
                        {"name": "lomash-orders-prod", "address": "orders.euw1.rds", "port": 5433}]}
    assert batch_endpoints(done) == {"lomash-auth-prod": {"address": "auth.euw1.rds", "port": 5432},
                                     "lomash-orders-prod": {"address": "orders.euw1.rds", "port": 5433}}
    # check mode, or one still without an endpoint: nothing, so that the step reads them itself
    assert batch_endpoints({"results": [dict(done["results"][0]), {"name": "lomash-orders-prod", "address": None}]}) == {}
    assert batch_endpoints({"skipped": True}) == {} and batch_endpoints({}) == {} and batch_endpoints({"results": []}) == {}
