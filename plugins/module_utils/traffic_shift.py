# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The failback's traffic shift, as plain data: which weights each step sets, what "back" means, the gate.

The traffic_shift role moves a name from failover records to weighted records, a step at a time
(10 -> 50 -> 100 percent to the region returned to), with a health gate after each step, then
back to failover records with that region as PRIMARY. Everything it decides lives here, pure
(no calls), so it is tested without an emulator; the role reads Route 53 with route53_failover
(mode=status) and passes the result in.

Steps are module arguments for route53_failover: ``{"mode": "weighted", "weights": {...}}`` or
``{"mode": "failback"}`` / ``{"mode": "failover"}`` (failover records with the primary, or the
standby, as PRIMARY). Each step carries the arguments that put back what was there before it,
so a failed gate rolls back by sending them.
"""

from __future__ import annotations

import time

# The names shift_problems gives each input: the traffic_shift role's variables by default.
ROLE_NAMES = dict(weights="dr_shift_weights", to="dr_shift_to_region", urls="dr_shift_health_urls")


def _as_int(value):
    """An int from a list given on the command line ('10' is 10); anything else is returned as is."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def _is_percent(value):
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 100


def shift_problems(percents, to_region, regions, health_urls, names=None):
    """Problems with the shift asked for, each naming the variable and the value; [] when it is fine.

    percents: percent of the traffic to to_region at each step, rising, ending at 100 (the restore
    of failover routing follows the last step). regions: the two regions (primary, standby).
    health_urls: {region: base URL} reaching each region directly (not through the weighted name).
    names: what each input is called where it was given (ROLE_NAMES: the role's variables).
    """
    names = names or ROLE_NAMES
    problems = []
    if to_region not in regions:
        problems.append("%s: %r is not one of the two regions (%s)" % (names["to"], to_region, ", ".join(regions)))
    if not isinstance(percents, (list, tuple)) or not percents:
        problems.append("%s: give a list of percentages, for example [10, 50, 100]; got %r" % (names["weights"], percents))
        return problems
    values = [_as_int(p) for p in percents]
    bad = [p for p in values if not _is_percent(p)]
    for value in bad:
        problems.append("%s: %r is not a percentage from 1 to 100" % (names["weights"], value))
    if not bad:
        if any(b <= a for a, b in zip(values, values[1:])):
            problems.append("%s: %s must rise at every step" % (names["weights"], values))
        if values[-1] != 100:
            problems.append("%s: %s must end at 100 (all the traffic on %s, then failover routing)"
                            % (names["weights"], values, to_region))
    if to_region in regions and not (health_urls or {}).get(to_region):
        problems.append("%s: no URL for %s (its /health is asked directly at every gate, "
                        "not through the weighted name)" % (names["urls"], to_region))
    return problems


def weights_at(percent, to_region, other_region):
    """Route 53 weights for percent of the traffic to to_region (a weight of 0 takes none)."""
    return {to_region: percent, other_region: 100 - percent}


def restore_args(primary_role_region, primary_region):
    """route53_failover arguments for failover records with primary_role_region as PRIMARY."""
    return {"mode": "failback" if primary_role_region == primary_region else "failover"}


def describe_args(args):
    """An argument set for people: 'eu-west-1=10, eu-west-2=90' or 'failover routing (failback)'."""
    if args.get("weights"):
        return ", ".join("%s=%s" % (r, w) for r, w in sorted(args["weights"].items()))
    return "failover routing (route53_failover mode=%s)" % args["mode"]


def plan_shift(status_result, percents, to_region, primary_region, standby_region):
    """The shift from the records read (route53_failover mode=status's result).

    Returns {problems, done, reason, start, steps, restore, other_region}. A name already in
    failover records with to_region PRIMARY is done (a rerun changes nothing). A name already
    weighted (a run stopped half way) resumes: the steps below its current share are skipped, so
    traffic is never moved back to the other region on the way; a step whose weights are in place already
    is gated again, and its rollback is what a run from the start would put back (the step before's).
    """
    other = standby_region if to_region == primary_region else primary_region
    records = status_result.get("records") or {}
    shape = (status_result.get("status") or {}).get("shape")
    problems = ["record set %r points at %s, neither region's ALB; the shift starts from records of the two regions"
                % (set_id, entry.get("target")) for set_id, entry in sorted(records.items()) if entry.get("region") is None]
    out = dict(problems=problems, done=False, reason=None, start=dict(shape=shape), steps=[],
               restore=restore_args(to_region, primary_region), other_region=other)
    if shape not in ("failover", "weighted"):
        problems.append("the name has %s records; the shift starts from failover or weighted records" % (shape or "no"))
    if problems:
        return out
    if shape == "failover":
        primary_role = next((e["region"] for e in records.values() if e.get("failover") == "PRIMARY"), None)
        out["start"]["primary_role_region"] = primary_role
        if primary_role == to_region:
            out["done"] = True
            out["reason"] = ("already failover routing with %s as PRIMARY: nothing to shift" % to_region)
            return out
        previous = restore_args(primary_role, primary_region)
        current = 0
    else:
        weights = {}
        for entry in records.values():
            weights[entry["region"]] = weights.get(entry["region"], 0) + int(entry.get("weight", 0))
        out["start"]["weights"] = weights
        total = sum(weights.values())
        current = (100.0 * weights.get(to_region, 0) / total) if total else 0
        previous = {"mode": "weighted", "weights": weights}
    values = [_as_int(p) for p in percents]
    for index, percent in enumerate(values, 1):
        step = dict(step=index, of=len(values), percent=percent, weights=weights_at(percent, to_region, other),
                    previous=previous, skip=None)
        out["steps"].append(step)
        if percent < current:
            step["skip"] = "already past it: %s%% of the traffic goes to %s" % (round(current, 1), to_region)
            step["previous"] = None
            continue
        if shape == "weighted" and abs(percent - current) < 1e-9:
            # Resumed at a step whose weights are in place already (a run stopped after sending them, or a
            # failed gate rolled back to them): its gate decides again, and a failure goes back to what a run
            # from the start has before this step - the step before's weights, or failover routing with the
            # other region PRIMARY - not to the step's own weights, a rollback that would move nothing.
            step["previous"] = ({"mode": "weighted", "weights": weights_at(values[index - 2], to_region, other)}
                                if index > 1 else restore_args(other, primary_region))
        previous = {"mode": "weighted", "weights": step["weights"]}
    return out


def _uri_answer(result, base_url):
    """One ansible.builtin.uri loop result (or a route53_failover gate answer) as {url, status, region, error}."""
    url = result.get("url") or (base_url.rstrip("/") + str(result.get("item", "")))
    body = result.get("json") if isinstance(result.get("json"), dict) else {}
    status = result.get("status", -1)
    error = body.get("error") or (None if status == 200 else (result.get("msg") or "no answer"))
    return dict(url=url, status=status, region=body.get("region"), error=error)


def shift_gate(status_result, uri_results, to_region, base_url=""):
    """The health gate after a step: {ok, reasons, route53, health}.

    route53: the health checks of to_region's records, as GetHealthCheckStatus reports them
    (status_result: route53_failover mode=status); each must be healthy. A region whose record
    has no check has nothing to read here (recorded as such); the /health gate still holds.
    health: each path asked of to_region directly (uri_results: an ansible.builtin.uri loop's
    results, or route53_failover's gate_answers, the same shape) must answer 200 with that region.
    """
    records = status_result.get("records") or {}
    health = status_result.get("health") or {}
    reasons = []
    checks = {}
    for set_id, entry in sorted(records.items()):
        check = entry.get("health_check")
        if entry.get("region") != to_region or not check:
            continue
        seen = health.get(check) or {}
        checks[check] = seen.get("healthy")
        if not seen:
            reasons.append("route53: health check %s of %s's record (%s) is not read" % (check, to_region, set_id))
        elif seen.get("healthy") is not True:
            reasons.append("route53: health check %s of %s's record (%s) is unhealthy (%s of %s checkers healthy)"
                           % (check, to_region, set_id, seen.get("checkers_healthy"), seen.get("checkers")))
    answers = [_uri_answer(r, base_url) for r in (uri_results or [])]
    if not answers:
        reasons.append("health: no path was asked of %s" % to_region)
    for answer in answers:
        if answer["status"] != 200:
            reasons.append("health: GET %s answered %s: %s" % (
                answer["url"], "HTTP %s" % answer["status"] if answer["status"] not in (-1, None) else "nothing",
                answer["error"]))
        elif answer["region"] != to_region:
            reasons.append("health: GET %s answered from %r, not %s" % (answer["url"], answer["region"], to_region))
    return dict(ok=not reasons, reasons=reasons,
                route53=dict(checks=checks, note=None if checks else "no health check on %s's record" % to_region),
                health=answers)


def stopped_message(step, to_region, gate):
    """Why the shift stopped at a step whose gate failed, and what it was rolled back to."""
    kinds = []
    for reason in gate["reasons"]:
        kind = reason.split(":", 1)[0]
        if kind not in kinds:
            kinds.append(kind)
    return ("Traffic shift stopped at step %s of %s (%s%% to %s): the %s gate failed - %s. Rolled back to %s."
            % (step["step"], step["of"], step["percent"], to_region, " and ".join(kinds), "; ".join(gate["reasons"]),
               describe_args(step["previous"])))


def _first(result):
    return (result.get("results") or [{}])[0]


def _moved(move, label, args, gated, entry, steps):
    """move(...)'s result; when it raises, entry is recorded as failed (with the change sent, if any) first."""
    try:
        return move(label, args, gated)
    except Exception as exc:
        partial = getattr(exc, "result", None) or {}
        entry.update(outcome="failed", error=str(exc), change_id=_first(partial).get("change_id"))
        steps.append(entry)
        raise


def run_shift(plan, move, to_region, check_mode=False, steps=None, clock=time.monotonic):
    """The shift a plan (plan_shift) lays out, step by step; returns (steps, failure).

    move(label, args, gated) makes one route53_failover move (args: {mode, weights}; gated: hold,
    then read the health checks and ask the gate's URLs) and returns its result. Each step sets its
    weights and holds; its gate (shift_gate) must pass, or what was there before the step is put
    back and the shift stops: failure is then {msg, reason}, else None. After the last step,
    failover routing with to_region as PRIMARY. steps (a list, filled as it goes, so a caller that
    sees an exception still has the steps done, and the one it was at as failed) records each step
    as the report shows it.
    """
    steps = [] if steps is None else steps
    if plan["done"]:
        return steps, None
    for step in plan["steps"]:
        entry = dict(step=step["step"], percent=step["percent"], weights=step["weights"])
        if step["skip"] is not None:
            steps.append(dict(entry, outcome="skipped", reason=step["skip"], gate=None, change_id=None, seconds={}))
            continue
        started = clock()
        args = {"mode": "weighted", "weights": step["weights"]}
        label = "step %s of %s, %s%% to %s (%s)" % (step["step"], step["of"], step["percent"], to_region, describe_args(args))
        result = _moved(move, label, args, True, entry, steps)
        gate = (dict(ok=True, reasons=[], checked=False) if check_mode
                else shift_gate(result, result.get("gate_answers") or [], to_region))
        entry.update(outcome="planned" if check_mode else ("changed" if result.get("changed") else "ok"),
                     gate=None if check_mode else gate, rolled_back_to=None, rollback_change_id=None,
                     change_id=_first(result).get("change_id"),
                     seconds=dict(insync=_first(result).get("seconds"), soak=result.get("held_seconds") or 0))
        steps.append(entry)
        if not gate["ok"]:
            failure = dict(msg=stopped_message(step, to_region, gate),
                           reason="gate failed at step %s: %s" % (step["step"], "; ".join(gate["reasons"])))
            try:
                back = move("roll back step %s to %s" % (step["step"], describe_args(step["previous"])), step["previous"], False)
            except Exception as exc:  # pylint: disable=broad-except
                # The gate's verdict stands; what the failed rollback left is said with it.
                entry.update(outcome="rollback_failed", rollback_error=str(exc))
                entry["seconds"]["total"] = round(clock() - started, 2)
                left = "; ".join("%s takes %s%%" % (region, weight) for region, weight in sorted(step["weights"].items()))
                failure["msg"] = failure["msg"].replace(
                    ". Rolled back to %s." % describe_args(step["previous"]),
                    ". Rolling back to %s FAILED (%s): the records may still send %s; set them by hand or run again."
                    % (describe_args(step["previous"]), exc, left))
                failure["reason"] += "; rollback failed: %s" % exc
                return steps, failure
            entry.update(outcome="rolled_back", rolled_back_to=step["previous"], rollback_change_id=_first(back).get("change_id"))
            entry["seconds"]["total"] = round(clock() - started, 2)
            return steps, failure
        entry["seconds"]["total"] = round(clock() - started, 2)
    entry = dict(step="restore", percent=100, weights=None, routing="failover, %s PRIMARY" % to_region, gate=None)
    result = _moved(move, "failover routing, %s PRIMARY (%s)" % (to_region, plan["restore"]["mode"]), plan["restore"], False,
                    entry, steps)
    steps.append(dict(entry, outcome="planned" if check_mode else ("changed" if result.get("changed") else "ok"),
                      change_id=_first(result).get("change_id"), seconds=dict(insync=_first(result).get("seconds"))))
    return steps, None


def shift_outcome(plan, steps, failure, percents, to_region, check_mode=False):
    """The shift as one report step: (outcome, reason)."""
    if failure:
        return "failed", failure["reason"]
    if plan["done"]:
        return "skipped", plan["reason"]
    if check_mode:
        return "skipped", "check mode: nothing moved"
    return ("changed" if any(s["outcome"] == "changed" for s in steps) else "ok",
            "traffic shifted %s %% to %s, then failover routing with %s as PRIMARY"
            % (" -> ".join(str(_as_int(p)) for p in percents), to_region, to_region))
