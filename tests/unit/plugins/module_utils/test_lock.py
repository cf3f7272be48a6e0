from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import BatchError
from ansible_collections.lomashwood.multiregion.plugins.module_utils.lock import (
    DEFAULT_TTL_SECONDS, broken_record, decide, describe, expires_at, is_own_write, is_stale, new_record, parse_record)

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=timezone.utc)
MINE = {"holder": "failover:INC-1", "started": "2026-11-26T11:00:00Z", "expires_at": "2026-11-26T15:00:00Z"}
MINE_STALE = dict(MINE, expires_at="2026-11-26T11:30:00Z")
THEIRS = {"holder": "failback:INC-0", "owner": "bob", "reason": "drill",
          "started": "2026-11-26T10:00:00Z", "expires_at": "2026-11-26T14:00:00Z"}
THEIRS_STALE = dict(THEIRS, started="2026-11-26T06:00:00Z", expires_at="2026-11-26T10:00:00Z")


@pytest.mark.parametrize("state, current, break_stale, action", [
    ("present", None, False, "acquire"),
    ("present", MINE, False, None),               # a resumed run keeps its lock
    ("present", MINE, True, None),
    ("present", MINE_STALE, False, "renew"),      # ...and renews its own expired one
    ("present", THEIRS_STALE, True, "break_stale"),
    ("absent", None, False, None),
    ("absent", MINE, False, "release"),
    ("absent", MINE_STALE, False, "release"),
    ("absent", THEIRS_STALE, True, "break_stale"),
])
def test_decide(state, current, break_stale, action):
    assert decide(state, current, "failover:INC-1", NOW, break_stale) == action


@pytest.mark.parametrize("state, current, break_stale, needles", [
    # another holder's live lock: refused whatever the options, naming holder, owner, reason, times
    ("present", THEIRS, False, ["held by 'failback:INC-0' (owner bob; reason: drill) since 2026-11-26T10:00:00Z",
                                "live until 2026-11-26T14:00:00Z, 120 min left", "never taken over"]),
    ("present", THEIRS, True, ["held by 'failback:INC-0'", "never taken over"]),
    ("absent", THEIRS, True, ["held by 'failback:INC-0'", "not by 'failover:INC-1'", "only its holder"]),
    # a stale one: refused unless broken on purpose, and the refusal says how
    ("present", THEIRS_STALE, False, ["stale: expired at 2026-11-26T10:00:00Z, 120 min ago", "break_stale: true"]),
    ("absent", THEIRS_STALE, False, ["held by 'failback:INC-0'", "break_stale: true"]),
])
def test_decide_refuses_and_names_the_holder(state, current, break_stale, needles):
    with pytest.raises(BatchError) as err:
        decide(state, current, "failover:INC-1", NOW, break_stale)
    for needle in needles:
        assert needle in str(err.value)


def test_legacy_records_read_as_new_ones():
    old = parse_record('{"holder": "x", "acquired_at": "2026-11-26T11:00:00Z", "purpose": "outage"}')
    assert old == {"holder": "x", "started": "2026-11-26T11:00:00Z", "reason": "outage"}
    # no expiry written: the default TTL after it started
    assert expires_at(old) == datetime(2026, 11, 26, 11, 0, tzinfo=timezone.utc) + timedelta(seconds=DEFAULT_TTL_SECONDS)
    assert not is_stale(old, NOW)
    assert parse_record("plain") == {"holder": "plain"}
    assert parse_record('["x"]') == {"holder": '["x"]'}


@pytest.mark.parametrize("record", [{"holder": "x"}, {"holder": "x", "started": "earlier"},
                                    {"holder": "x", "expires_at": 12}])
def test_a_record_without_a_readable_time_is_stale(record):
    assert is_stale(record, NOW)
    assert "no readable expiry" in describe(record, NOW)
    with pytest.raises(BatchError):
        decide("present", record, "y", NOW)
    assert decide("present", record, "y", NOW, break_stale=True) == "break_stale"


def test_new_record_and_expiry():
    record = new_record("failover:INC-1", "alice", "outage", 60, NOW)
    assert record == {"holder": "failover:INC-1", "owner": "alice", "reason": "outage", "started": "2026-11-26T12:00:00Z",
                      "expires_at": "2026-11-26T12:01:00Z", "ttl_seconds": 60}
    assert not is_stale(record, NOW + timedelta(seconds=59))
    assert is_stale(record, NOW + timedelta(seconds=60))
    assert new_record("h", None, None, 60, NOW, started="s")["started"] == "s"


def test_broken_record_names_the_old_holder():
    assert broken_record(THEIRS_STALE, NOW) == {
        "holder": "failback:INC-0", "owner": "bob", "reason": "drill", "started": "2026-11-26T06:00:00Z",
        "expires_at": "2026-11-26T10:00:00Z", "expired": True, "expired_seconds_ago": 7200}
    assert broken_record({"holder": "x"}, NOW)["expired_seconds_ago"] is None


def test_a_retried_create_knows_its_own_record():
    mine = new_record("failover:INC-1", "alice", "outage", 60, NOW, write_id="w1")
    assert mine["write_id"] == "w1"
    assert is_own_write(dict(mine), mine)
    assert not is_own_write(dict(mine, write_id="w2"), mine)  # the same holder, another write: another run
    assert not is_own_write(dict(mine, holder="failover:INC-2"), mine)
    assert not is_own_write({k: v for k, v in mine.items() if k != "write_id"}, mine)  # a record of 0.1.0
    assert not is_own_write(None, mine)
    assert not is_own_write(dict(mine), new_record("failover:INC-1", "alice", "outage", 60, NOW))  # no id: never
