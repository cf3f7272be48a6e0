"""The step timeline of a run as Gantt rows (bench/suite.py draws them)."""

from __future__ import annotations


def gantt_rows(steps, t0):
    """[(step, start, duration, depth)] from a report's steps (seconds since t0), in start order (the
    longer first when two start together); depth counts the other steps whose window holds this one
    (in a failover the promotion holds repoint_services and scale_services)."""
    spans = [(s["step"], float(s["started"]), float(s["ended"])) for s in steps]
    out = []
    for i, (step, start, end) in sorted(enumerate(spans), key=lambda kv: (kv[1][1], -kv[1][2])):
        depth = sum(1 for j, (_o, o_start, o_end) in enumerate(spans)
                    if j != i and o_start <= start and end <= o_end and (o_start, o_end) != (start, end))
        out.append((step, start - t0, end - start, depth))
    return out
