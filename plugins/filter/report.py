# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters the report role uses to read the run's steps (each a dict: step, started, ended, outcome, detail)."""

from __future__ import annotations


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


def step_reason(step):
    """"<step>: <why>" for a step, from its detail's reason (or its outcome)."""
    detail = step.get("detail") or {}
    reason = detail.get("reason") if isinstance(detail, dict) else None
    return "%s: %s" % (step.get("step"), reason or step.get("outcome"))


class FilterModule:
    def filters(self):
        return {"step_shortfall": step_shortfall, "step_reason": step_reason}
