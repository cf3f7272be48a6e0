import pytest

from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import BatchError
from ansible_collections.lomashwood.multiregion.plugins.module_utils.lock import decide, parse_record

MINE = {"holder": "failover:INC-1", "acquired_at": "t0"}
THEIRS = {"holder": "failback:INC-0", "acquired_at": "t0", "purpose": "drill"}


@pytest.mark.parametrize("state, current, force, action", [
    ("present", None, False, "acquire"),
    ("present", MINE, False, None),          # a resumed run keeps its lock
    ("present", THEIRS, True, "takeover"),
    ("absent", None, False, None),
    ("absent", MINE, False, "release"),
    ("absent", THEIRS, True, "release"),
])
def test_decide(state, current, force, action):
    assert decide(state, current, "failover:INC-1", force) == action


@pytest.mark.parametrize("state, needle", [
    ("present", "held by 'failback:INC-0' since t0 (drill)"),
    ("absent", "held by 'failback:INC-0', not by 'failover:INC-1'"),
])
def test_decide_refuses_and_names_the_holder(state, needle):
    with pytest.raises(BatchError) as err:
        decide(state, THEIRS, "failover:INC-1")
    assert needle in str(err.value)


def test_parse_record():
    assert parse_record('{"holder": "x"}') == {"holder": "x"}
    assert parse_record("plain") == {"holder": "plain"}
