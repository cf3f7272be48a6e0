import time

import pytest

from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import write_progress
from ansible_collections.lomashwood.multiregion.plugins.plugin_utils import progress as pu
from ansible_collections.lomashwood.multiregion.plugins.plugin_utils.progress import (
    ProgressPrinter, _short_names, duration, progress_line, read_progress, run_showing_progress)

REPLICAS = ["lomash-%s-prod-replica" % s for s in ("auth", "orders", "products", "content", "customers")]


@pytest.mark.parametrize("names, short", [
    (REPLICAS[:2], ["auth", "orders"]),
    (["lomash-auth-prod-replica"], ["lomash-auth-prod-replica"]),  # one name: nothing shared to drop
    (["a-x", "a-x"], ["x", "x"]),  # never down to nothing
    (["auth-service", "api-gateway"], ["auth-service", "api-gateway"]),
])
def test_short_names_drop_what_all_share(names, short):
    assert _short_names(names) == short


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (41.4, "41s"), (72, "1m 12s"), (3725, "1h 02m")])
def test_duration(seconds, text):
    assert duration(seconds) == text


def test_progress_line_says_what_is_done_and_what_is_pending():
    progress = {"what": "promotions", "done_word": "available", "total": 8, "elapsed_seconds": 41,
                "done": REPLICAS, "pending": {"lomash-analytics-prod-replica": "modifying",
                                              "lomash-appointments-prod-replica": "modifying"}}
    assert progress_line(progress) == ("promotions: 5/8 available (auth, orders, products, content, ...), "
                                       "pending: analytics (modifying), appointments (modifying); 41s so far")


def test_progress_line_with_nothing_done_yet():
    progress = {"what": "promotions", "done_word": "available", "total": 2, "elapsed_seconds": 3, "done": [],
                "pending": {"lomash-auth-prod-replica": "modifying", "lomash-orders-prod-replica": "not found"}}
    assert progress_line(progress) == "promotions: 0/2 available, pending: auth (modifying), orders (not found); 3s so far"


def test_progress_line_with_a_count_beyond_the_sample_and_a_note():
    progress = {"what": "objects", "done_word": "copied", "total": 1000, "done_count": 400, "elapsed_seconds": 12,
                "done": ["data/a.json", "data/b.json"], "pending": {}, "note": "0 failed, 3000 listed in the source so far"}
    assert progress_line(progress) == ("objects: 400/1000 copied (data/a.json, data/b.json, ...), "
                                       "0 failed, 3000 listed in the source so far; 12s so far")


def test_the_module_side_writes_what_the_controller_side_reads(tmp_path):
    path = str(tmp_path / "p.json")
    assert read_progress(path) is None  # not written yet
    write_progress(path, "promotions", 2, ["lomash-auth-prod-replica"], {"lomash-orders-prod-replica": "modifying"},
                   7.04, done_word="available")
    assert progress_line(read_progress(path)) == "promotions: 1/2 available (auth), pending: orders (modifying); 7s so far"
    (tmp_path / "half.json").write_text('{"done": [')
    assert read_progress(str(tmp_path / "half.json")) is None  # half a write is no progress, not an error


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def reading(done, pending):
    return {"what": "deployments", "total": 3, "done": done, "pending": pending, "elapsed_seconds": 0}


def test_printer_says_at_once_when_one_is_done_and_otherwise_not_too_often():
    clock, lines = Clock(), []
    printer = ProgressPrinter(lines.append, clock=clock)
    assert printer.update(reading([], {"a": "0/3 ready", "b": "0/3 ready"}))  # the first reading
    clock.now = 1
    assert not printer.update(reading([], {"a": "1/3 ready", "b": "0/3 ready"}))  # a change, too soon
    clock.now = 2
    assert printer.update(reading(["a"], {"b": "0/3 ready"}))  # one done: at once
    clock.now = 2 + pu.CHANGE_GAP
    assert printer.update(reading(["a"], {"b": "2/3 ready"}))  # another change, after the gap
    clock.now += pu.HEARTBEAT - 1
    assert not printer.update(reading(["a"], {"b": "2/3 ready"}))  # nothing changed, not yet the heartbeat
    clock.now += 1
    assert printer.update(reading(["a"], {"b": "2/3 ready"}))  # still waiting: said every HEARTBEAT s
    assert not printer.update(None)  # no reading, no line
    assert len(lines) == 4 and lines[1].startswith("deployments: 1/3 done (a), pending: b (0/3 ready)")


def test_run_showing_progress_prints_while_the_module_runs_and_returns_its_result(tmp_path):
    path, lines = str(tmp_path / "p.json"), []

    def module():
        write_progress(path, "replicas", 2, [], {"r1": "creating", "r2": "creating"}, 0.5)
        time.sleep(0.3)
        write_progress(path, "replicas", 2, ["r1"], {"r2": "creating"}, 1.0)
        time.sleep(0.3)
        return {"changed": True}

    assert run_showing_progress(module, path, lines.append, read_every=0.05) == {"changed": True}
    assert lines == ["replicas: 0/2 done, pending: r1 (creating), r2 (creating); 0s so far",
                     "replicas: 1/2 done (r1), pending: r2 (creating); 1s so far"]


def test_run_showing_progress_raises_what_the_module_run_raised(tmp_path):
    def module():
        raise RuntimeError("connection lost")

    with pytest.raises(RuntimeError, match="connection lost"):
        run_showing_progress(module, str(tmp_path / "none.json"), print, read_every=0.01)


def test_printer_says_at_once_when_the_next_batch_of_a_run_begins_and_a_note_as_a_change():
    """route53_failover mode=shift: one run, a batch per step, the same name done in each; a hold's note."""
    clock, lines = Clock(), []
    printer = ProgressPrinter(lines.append, clock=clock)

    def step(number, done, note=None):
        return dict(what="step %d: DNS change" % number, total=1, done=done, note=note,
                    pending={} if done else {"api": "change PENDING"}, elapsed_seconds=0)

    assert printer.update(step(1, ["api"]))
    clock.now = 1
    assert not printer.update(step(1, ["api"], note="holding 300 s, then the gate"))  # a change, too soon
    clock.now = 1 + pu.CHANGE_GAP
    assert printer.update(step(1, ["api"], note="holding 300 s, then the gate"))
    clock.now += 1
    assert printer.update(step(2, []))  # the next step: at once, though the name was done in the step before
    assert lines[-1].startswith("step 2: DNS change: 0/1 done, pending: api (change PENDING)")
