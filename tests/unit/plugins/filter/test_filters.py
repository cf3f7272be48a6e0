from ansible_collections.lomashwood.multiregion.plugins.filter.report import step_reason, step_shortfall

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
