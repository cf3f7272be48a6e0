# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters the report role uses to read the run's steps (each a dict: step, started, ended, outcome, detail)."""

from __future__ import annotations

from collections.abc import Mapping


def _seconds(step):
    try:
        return max(0.0, float(step["ended"]) - float(step["started"]))
    except (KeyError, TypeError, ValueError):
        return 0.0


def step_shortfall(step, real_seconds):
    """How much longer a step would have taken at its real-world time: max(0, real - measured).

    real_seconds maps a step name to its time against production (e.g. promote_databases: 600);
    a step not in it, skipped, or run in check mode adds nothing.
    """
    real = (real_seconds or {}).get(step.get("step"))
    if real is None or step.get("outcome") == "skipped":
        return 0.0
    return max(0.0, float(real) - _seconds(step))


def path_shortfall(steps, real_seconds, until=None):
    """How much later the run would have reached `until` (the answer from the new region) had each
    step taken its real-world time (step_shortfall), steps that ran together counted once.

    Walked in the order the steps ended: a step's projected end is its start, pushed by the delay of
    every step that ended before it started, plus its measured time, plus its shortfall; from its end
    on, the run is late by as much as that projected end is (the most of any step so far). So the
    scale-up waited under the promotion's window adds only what outlasts the promotion, a class change
    after the promotion adds its whole shortfall on top, and a step that ended after `until` (a class
    change waited for once the API answers) adds nothing to it. An approximation, on the safe side:
    the time a step spent waiting for the window it ran in to end counts as work after it.
    """
    timed = []
    for step in steps or []:
        try:
            started, ended = float(step["started"]), float(step["ended"])
        except (KeyError, TypeError, ValueError):
            continue
        if until is None or ended <= float(until):
            timed.append((ended, started, step))
    late = []  # (measured end, seconds late from then on)

    def late_at(when):
        return max([seconds for ended, seconds in late if ended <= when] or [0.0])

    for ended, started, step in sorted(timed, key=lambda t: (t[0], t[1])):
        projected_end = started + late_at(started) + (ended - started) + step_shortfall(step, real_seconds)
        late.append((ended, projected_end - ended))
    return round(max(0.0, late_at(float("inf") if until is None else float(until))), 1)


def step_reason(step):
    """"<step>: <why>" for a step, from its detail's reason (or its outcome)."""
    detail = step.get("detail") or {}
    reason = detail.get("reason") if isinstance(detail, dict) else None
    return "%s: %s" % (step.get("step"), reason or step.get("outcome"))


def _add_retries(value, into, depth=0):
    if depth > 3:
        return
    if isinstance(value, dict):
        retries = value.get("retries")
        if isinstance(retries, dict):
            for operation, count in retries.items():
                if isinstance(count, int) and not isinstance(count, bool):
                    into[operation] = into.get(operation, 0) + count
        items = value.get("results")
        for item in items if isinstance(items, list) else []:
            _add_retries(item, into, depth + 1)


def retries_of(variables, names):
    """The retries the run's modules reported ({'total', 'by_operation'}), from the registered results
    among `names` in `variables` (a host's hostvars): each module result's `retries` (a dict of
    operation -> transient failures tried again), loops' `results` included. A variable that cannot
    be read (not defined in this play, a template that fails) is left out, and so is one equal to a
    variable already counted (a set_fact copy of a registered result)."""
    counts, seen = {}, []
    # A host's variables as stored (ansible-core's hostvars view keeps them in _vars): a registered result is
    # stored as the module returned it, so reading it there templates none of the play's other variables
    # (~0.1 s of a failover's tail); the view itself, templating each, where that is not there.
    stored = getattr(variables, "_vars", None)
    for name in names or []:
        try:
            value = stored[name] if isinstance(stored, Mapping) else variables[name]
        except Exception:  # pylint: disable=broad-except
            continue
        if not isinstance(value, dict) or value in seen:
            continue  # a copy of a result already counted (set_fact of a registered one)
        seen.append(value)
        _add_retries(value, counts)
    return {"total": sum(counts.values()), "by_operation": dict(sorted(counts.items()))}


class FilterModule:
    def filters(self):
        return {"step_shortfall": step_shortfall, "path_shortfall": path_shortfall, "step_reason": step_reason,
                "retries_of": retries_of}
