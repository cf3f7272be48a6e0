import threading
import time

import pytest

from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import (
    ApiCallCounter, BatchTimeout, duplicates, run_concurrently, wait_for_batch,
)


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

    done, observed, elapsed = wait_for_batch(poll, list(ready_at), bool, timeout=100, interval=10,
                                             clock=clock, sleep=clock.sleep)
    assert done == {"a": 0, "b": 20, "c": 30}
    assert polls == [0, 10, 20, 30]  # one poll per interval for the whole batch
    assert elapsed == 30 and observed["c"] is True


def test_wait_for_batch_timeout_names_done_and_pending():
    clock = FakeClock()
    with pytest.raises(BatchTimeout) as err:
        wait_for_batch(lambda: {"a": True, "b": False}, ["a", "b"], bool, timeout=25, interval=10,
                       clock=clock, sleep=clock.sleep)
    assert err.value.done == {"a": 0}
    assert err.value.pending == ["b"]
    assert "still waiting for b" in str(err.value) and "done: a" in str(err.value)
    assert clock.now <= 25


def test_wait_for_batch_reports_progress():
    clock = FakeClock()
    seen = []
    wait_for_batch(lambda: {"a": clock.now >= 10}, ["a"], bool, 100, 5, clock=clock, sleep=clock.sleep,
                   on_poll=lambda done, pending, elapsed: seen.append((sorted(done), sorted(pending))))
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
