"""bench/gantt.py: a report's steps as Gantt rows (the benchmark's plot; the helper's logic only)."""

from bench.gantt import gantt_rows


def test_rows_in_start_order_with_nesting_depth():
    t0 = 100.0
    steps = [
        {"step": "preflight", "started": 100.5, "ended": 102.0},
        {"step": "promote_databases", "started": 102.0, "ended": 108.0},
        {"step": "repoint_services", "started": 102.2, "ended": 103.0},
        {"step": "scale_services", "started": 103.0, "ended": 107.5},
        {"step": "dns", "started": 108.1, "ended": 109.6},
    ]
    rows = gantt_rows(list(reversed(steps)), t0)
    assert [r[0] for r in rows] == ["preflight", "promote_databases", "repoint_services", "scale_services", "dns"]
    assert rows[1] == ("promote_databases", 2.0, 6.0, 0)
    assert [r[3] for r in rows] == [0, 0, 1, 1, 0]  # repoint and scale run inside the promotion's window
    assert abs(rows[4][1] - 8.1) < 1e-9 and abs(rows[4][2] - 1.5) < 1e-9


def test_same_window_is_not_nested_and_empty_is_empty():
    steps = [{"step": "a", "started": "1", "ended": "2"}, {"step": "b", "started": "1", "ended": "2"}]
    assert [r[3] for r in gantt_rows(steps, 0)] == [0, 0]
    assert gantt_rows([], 0) == []
