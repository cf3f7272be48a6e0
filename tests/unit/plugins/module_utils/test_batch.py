import threading
import time
from dataclasses import dataclass

import pytest
import yaml

from ansible_collections.lomashwood.multiregion.plugins.doc_fragments.batch import ModuleDocFragment
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import (
    BATCH_ARGUMENT_SPEC, Adapter, ApiCallCounter, BatchError, BatchOptions, BatchTimeout, ModuleFailure,
    batch_argument_spec, check_minimums, diff_of, duplicates, run_batch, run_concurrently, wait_for_batch,
)


def ready(_name, state):
    return bool(state)


class FakeClock:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.mark.parametrize("names, dups", [
    ([], []), (["a", "b"], []), (["a", "b", "a", "a", "c", "b"], ["a", "b"]),
])
def test_duplicates(names, dups):
    assert duplicates(names) == dups


def test_wait_for_batch_one_poll_per_interval_serves_all():
    clock = FakeClock()
    ready_at = {"a": 0, "b": 20, "c": 30}
    polls = []

    def poll():
        polls.append(clock.now)
        return {n: clock.now >= t for n, t in ready_at.items()}

    done, observed, elapsed = wait_for_batch(poll, list(ready_at), ready, timeout=100, interval=10,
                                             clock=clock, sleep=clock.sleep)
    assert done == {"a": 0, "b": 20, "c": 30}
    assert polls == [0, 10, 20, 30]  # one poll per interval for the whole batch
    assert elapsed == 30 and observed["c"] is True


def test_wait_for_batch_timeout_names_done_and_pending():
    clock = FakeClock()
    with pytest.raises(BatchTimeout) as err:
        wait_for_batch(lambda: {"a": True, "b": False}, ["a", "b"], ready, timeout=25, interval=10,
                       clock=clock, sleep=clock.sleep)
    assert err.value.done == {"a": 0}
    assert err.value.pending == ["b"]
    assert "still waiting for b" in str(err.value) and "done: a" in str(err.value)
    assert clock.now == 25 and err.value.elapsed == 25


@pytest.mark.parametrize("timeout, interval, polls", [
    (10, 1, [float(t) for t in range(11)]),  # the last poll at 10 s, not 9
    (15, 10, [0, 10, 15]),  # a shorter last sleep, to poll exactly at the deadline
    (20, 10, [0, 10, 20]),
    (0, 5, [0]),  # no wait: one look
])
def test_wait_for_batch_polls_a_last_time_exactly_at_the_deadline(timeout, interval, polls):
    clock = FakeClock()
    seen = []

    def poll():
        seen.append(clock.now)
        return {"a": False}
    with pytest.raises(BatchTimeout) as err:
        wait_for_batch(poll, ["a"], ready, timeout=timeout, interval=interval, clock=clock, sleep=clock.sleep)
    assert seen == polls
    assert err.value.elapsed == timeout
    assert "timed out after %d s" % timeout in str(err.value)


def test_wait_for_batch_done_at_the_deadline_is_done():
    clock = FakeClock()
    done, _observed, elapsed = wait_for_batch(lambda: {"a": clock.now >= 15}, ["a"], ready, timeout=15, interval=10,
                                              clock=clock, sleep=clock.sleep)
    assert done == {"a": 15} and elapsed == 15


def test_wait_for_batch_counts_from_the_given_start():
    clock = FakeClock()
    clock.now = 4.0  # the run started at 0 and spent 4 s before waiting
    with pytest.raises(BatchTimeout) as err:
        wait_for_batch(lambda: {"a": False}, ["a"], ready, timeout=10, interval=3, clock=clock, sleep=clock.sleep, start=0.0)
    assert clock.sleeps == [3, 3]  # 4 -> 7 -> 10, the deadline
    assert err.value.elapsed == 10


def test_wait_for_batch_reports_progress():
    clock = FakeClock()
    seen = []
    wait_for_batch(lambda: {"a": clock.now >= 10}, ["a"], ready, 100, 5, clock=clock, sleep=clock.sleep,
                   on_poll=lambda done, pending, elapsed, observed: seen.append((sorted(done), sorted(pending))))
    assert seen == [([], ["a"]), ([], ["a"]), (["a"], [])]


def test_run_concurrently_runs_at_once_and_keeps_failures():
    barrier = threading.Barrier(4, timeout=5)

    def work(item):
        barrier.wait()  # deadlocks (and times out) unless all four run at the same time
        if item == 3:
            raise ValueError("boom %d" % item)
        return item * 2

    out = run_concurrently(work, [1, 2, 3, 4], max_concurrency=4)
    assert [(i, r) for i, r, e in out] == [(1, 2), (2, 4), (3, None), (4, 8)]
    assert str(out[2][2]) == "boom 3"


def test_run_concurrently_is_bounded():
    running, peak, lock = [0], [0], threading.Lock()

    def work(item):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1

    run_concurrently(work, range(12), max_concurrency=3)
    assert peak[0] == 3


def test_api_call_counter_counts_by_operation():
    counter = ApiCallCounter()

    counter._count(event_name="before-send.rds.DescribeDBInstances", request=None)
    counter._count(event_name="before-send.rds.DescribeDBInstances", request=None)
    counter.add("PromoteReadReplica", 3)
    assert counter.as_dict() == {"DescribeDBInstances": 2, "PromoteReadReplica": 3}


# ---- the module flow --------------------------------------------------------------------------

@dataclass(frozen=True)
class Act:
    name: str
    action: str

    @property
    def changed(self):
        return self.action == "set"

    def as_dict(self):
        return {"name": self.name, "action": self.action}


class FakeAdapter(Adapter):
    """Resources whose value is set to 1; each becomes done at ready_at[name] seconds on the clock."""

    noun = "thing"

    def __init__(self, values, clock, ready_at=None, fail=(), refuse=()):
        self.values, self.clock = dict(values), clock
        self.ready_at = ready_at or {}
        self.fail, self.refuse = set(fail), list(refuse)
        self.applied, self.polled = [], 0
        self.set_at = {}

    def observe(self):
        return {n: {"value": v, "done": v == 1} for n, v in self.values.items()}

    def plan(self, observed):
        if self.refuse:
            raise BatchError(self.refuse)
        return [Act(n, "none" if s["value"] == 1 else "set") for n, s in observed.items()]

    def simulate(self, plan, observed):
        return {a.name: {"value": 1, "done": True} for a in plan}

    def apply(self, plan):
        failures = {}
        for a in plan:
            if not a.changed:
                continue
            if a.name in self.fail:
                failures[a.name] = RuntimeError("no")
                continue
            self.applied.append(a.name)
            self.values[a.name] = 1
            self.set_at[a.name] = self.clock()
        return plan, failures

    def poll(self):
        self.polled += 1
        now = self.clock()
        return {n: {"value": v, "done": v == 1 and now >= self.set_at.get(n, 0) + self.ready_at.get(n, 0)}
                for n, v in self.values.items()}

    def is_done(self, action, state):
        return bool(state and state["done"])

    def progress(self, name, state):
        return "value %s" % state["value"]

    def summarise(self, plan, before, after, done, failures, check_mode):
        results = [dict(name=a.name, before=before[a.name], after=after.get(a.name), seconds=done.get(a.name),
                        error=str(failures[a.name]) if a.name in failures else None) for a in plan]
        return dict(results=results, diff=diff_of(results))


def options(check_mode=False, wait=True, wait_timeout=60, poll_interval=5):
    return BatchOptions(dict(max_concurrency=4, wait=wait, wait_timeout=wait_timeout, poll_interval=poll_interval),
                        check_mode)


def flow(adapter, clock, **kwargs):
    return run_batch(adapter, options(**kwargs), ApiCallCounter(), clock=clock, sleep=clock.sleep)


def test_flow_applies_the_plan_then_waits_with_one_poll_per_interval():
    clock = FakeClock()
    adapter = FakeAdapter({"a": 0, "b": 0, "c": 1}, clock, ready_at={"a": 3, "b": 12})
    result = flow(adapter, clock)
    assert result["changed"] is True
    assert result["plan"] == [{"name": "a", "action": "set"}, {"name": "b", "action": "set"}, {"name": "c", "action": "none"}]
    assert adapter.applied == ["a", "b"]
    assert {r["name"]: r["seconds"] for r in result["results"]} == {"a": 5, "b": 15, "c": 0}
    assert result["polls"] == adapter.polled == 4  # 0, 5, 10, 15
    assert result["diff"]["before"]["a"] == {"value": 0, "done": False}


def test_check_mode_returns_the_simulated_plan_and_applies_nothing():
    clock = FakeClock()
    adapter = FakeAdapter({"a": 0, "b": 1}, clock)
    result = flow(adapter, clock, check_mode=True)
    assert result["changed"] is True and adapter.applied == [] and adapter.polled == 0
    assert result["diff"]["after"] == {"a": {"value": 1, "done": True}, "b": {"value": 1, "done": True}}


def test_nothing_to_do_and_all_done_makes_no_poll():
    clock = FakeClock()
    adapter = FakeAdapter({"a": 1, "b": 1}, clock)
    result = flow(adapter, clock)
    assert (result["changed"], adapter.applied, adapter.polled, result["polls"]) == (False, [], 0, 0)


def test_a_refusal_changes_nothing():
    clock = FakeClock()
    adapter = FakeAdapter({"a": 0}, clock, refuse=["a: bad", "b: unknown"])
    with pytest.raises(BatchError) as err:
        flow(adapter, clock)
    assert err.value.problems == ["a: bad", "b: unknown"] and adapter.applied == []


def test_a_failed_apply_fails_with_the_partial_result_and_does_not_wait():
    clock = FakeClock()
    adapter = FakeAdapter({"a": 0, "b": 0}, clock, fail=["b"])
    with pytest.raises(ModuleFailure) as err:
        flow(adapter, clock)
    assert str(err.value) == "Failed to change b: no"
    result = err.value.result
    assert result["changed"] is True  # a was changed
    assert {r["name"]: r["error"] for r in result["results"]} == {"a": None, "b": "no"}
    assert adapter.polled == 1 and clock.sleeps == []


def test_without_wait_one_poll_reports_the_state():
    clock = FakeClock()
    adapter = FakeAdapter({"a": 0}, clock, ready_at={"a": 30})
    result = flow(adapter, clock, wait=False)
    assert adapter.polled == 1 and result["results"][0]["seconds"] is None and clock.sleeps == []


def test_a_timeout_names_pending_and_done_and_keeps_the_partial_result():
    clock = FakeClock()
    adapter = FakeAdapter({"a": 0, "b": 0}, clock, ready_at={"a": 0, "b": 99})
    with pytest.raises(ModuleFailure) as err:
        flow(adapter, clock, wait_timeout=10, poll_interval=4)
    assert str(err.value) == "Timed out after 10 s waiting for 1 of 2 thing(s): still waiting for b (value 1); done: a"
    assert (err.value.result["pending"], err.value.result["done"]) == (["b"], ["a"])
    assert clock.now == 10 and adapter.polled == 4  # 0, 4, 8 and the deadline


@pytest.mark.parametrize("params, problems", [
    (dict(max_concurrency=10, wait_timeout=0, poll_interval=0.5), []),
    (dict(max_concurrency=0, wait_timeout=-1, poll_interval=0), [
        "max_concurrency must be at least 1, got 0", "wait_timeout must be at least 0, got -1",
        "poll_interval must be more than 0, got 0"]),
    (dict(max_concurrency=1, wait_timeout=1, poll_interval=1, max_replica_lag_seconds=0), []),
    (dict(max_concurrency=1, wait_timeout=1, poll_interval=1, max_replica_lag_seconds=-5),
     ["max_replica_lag_seconds must be at least 0, got -5"]),
])
def test_check_minimums_names_each_bad_value(params, problems):
    assert check_minimums(params, {"max_replica_lag_seconds": 0}) == problems


def test_the_doc_fragment_documents_the_batch_argument_spec():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert set(documented) == set(BATCH_ARGUMENT_SPEC)
    for name, spec in BATCH_ARGUMENT_SPEC.items():
        assert (documented[name]["type"], documented[name].get("default")) == (spec["type"], spec.get("default")), name


def test_batch_argument_spec_changes_a_default_without_touching_the_shared_one():
    assert batch_argument_spec(poll_interval=1)["poll_interval"] == {"type": "float", "default": 1}
    assert BATCH_ARGUMENT_SPEC["poll_interval"]["default"] == 10


class DeferringAdapter(FakeAdapter):
    """FakeAdapter whose resources in `later` cannot be set before ready_from[name] s (a promotion under
    way): they are planned `later` and started by start_ready at the first poll that finds them ready."""

    def __init__(self, values, clock, ready_from, fail_start=(), **kwargs):
        super().__init__(values, clock, **kwargs)
        self.ready_from, self.fail_start, self.started = ready_from, set(fail_start), {}

    def plan(self, observed):
        return [Act(a.name, "later") if a.name in self.ready_from and a.changed else a for a in super().plan(observed)]

    def is_deferred(self, action):
        return action.action == "later"

    def start_ready(self, plan, observed):
        now, failures, out = self.clock(), {}, []
        for a in plan:
            if a.action == "later" and now >= self.ready_from[a.name]:
                a = Act(a.name, "set")
                if a.name in self.fail_start:
                    failures[a.name] = RuntimeError("refused")
                else:
                    self.started[a.name] = now
                    self.values[a.name], self.set_at[a.name] = 1, now
            out.append(a)
        return out, failures


def test_a_deferred_step_starts_at_the_first_poll_that_finds_it_ready_and_is_waited_for_with_the_rest():
    clock = FakeClock()
    adapter = DeferringAdapter({"a": 0, "b": 0, "c": 0}, clock, ready_from={"b": 7, "c": 12}, ready_at={"a": 3, "b": 3, "c": 3})
    result = flow(adapter, clock)
    assert adapter.applied == ["a"]  # b and c were not ready at the start
    assert adapter.started == {"b": 10, "c": 15}  # each at the first poll after it could start, not after the last
    assert {r["name"]: r["seconds"] for r in result["results"]} == {"a": 5, "b": 15, "c": 20}
    assert result["changed"] is True and [p["action"] for p in result["plan"]] == ["set", "set", "set"]


def test_a_deferred_step_that_fails_to_start_fails_the_run_naming_it_without_waiting_for_it():
    clock = FakeClock()
    adapter = DeferringAdapter({"a": 0, "b": 0}, clock, ready_from={"b": 4}, fail_start=["b"], ready_at={"a": 12})
    with pytest.raises(ModuleFailure) as err:
        flow(adapter, clock, wait_timeout=600)
    assert str(err.value) == "Failed to change b: refused"
    assert {r["name"]: r["error"] for r in err.value.result["results"]} == {"a": None, "b": "refused"}
    assert clock.now < 600  # b was not waited for until the timeout: a's wait ended it


def test_a_deferred_step_never_ready_times_out_naming_it():
    clock = FakeClock()
    adapter = DeferringAdapter({"a": 0, "b": 0}, clock, ready_from={"b": 10 ** 6})
    with pytest.raises(ModuleFailure) as err:
        flow(adapter, clock, wait_timeout=30)
    assert "still waiting for b" in str(err.value) and "done: a" in str(err.value)
