# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one module flow every module of this collection runs, and the batch helpers under it.

Failover work is many independent resources at once. Every module is the same flow:

    observe  -> plan (or refuse, naming every bad value) -> check mode returns the plan
             -> apply (concurrently) -> wait (one shared poll for the whole batch) -> result

`run_batch` is that flow, once; `execute` wraps it for a module's `main()` (refusals, failures
with their partial result, unexpected errors). A module is its argument spec, an `Adapter`
subclass and `main()`. The adapter answers five questions, and holds the clients it needs:

    observe()                 what is there now: {name: state}; read-only calls only
    plan(observed)            [action, ...], each with .name, .changed and as_dict(); or BatchError
    apply(plan)               do the changed actions; (plan as it turned out, {name: exception})
    poll()                    {name: state} for the whole batch in one go (one API call per page)
    is_done(action, state)    the readiness predicate for one resource
    simulate(plan, observed)  the end state check mode predicts, {name: state}
    summarise(...)            the per-resource `results` and the `diff`, from before/after data

How the modules still to come fit it:
- DNS (route53_failover): observe = the records of one name (`StartRecordName`) and their health
  checks; plan = one action per record set (UPSERT/DELETE/CREATE); apply sends them all in one
  ChangeBatch; poll = `GetChange`; is_done = `INSYNC`. The batch is one change, the flow is the same.
- S3 (s3_crr_sync): observe = both buckets' listings; plan = CopyObject/DeleteObject per key;
  apply = concurrent server-side copies (failures per key, the rest go on); no wait (is_done is
  true once applied) or a poll of the destination's listing.
- Replica creation (failback): observe = the instances; plan = CreateReplica per missing one;
  apply concurrently; poll = one `DescribeDBInstances` with a filter; is_done = available and
  replicating.

Clock and sleep are injectable so unit tests never sleep.
"""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

# The options every batch module takes (documented once in doc_fragments/batch.py). A module
# with other needs overrides a default, e.g. batch_argument_spec(poll_interval=1).
BATCH_ARGUMENT_SPEC = dict(
    max_concurrency=dict(type="int", default=10),
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=1800),
    poll_interval=dict(type="float", default=10),
    progress_file=dict(type="path"),
)
# The smallest value each numeric batch option may take.
BATCH_MINIMUMS = dict(max_concurrency=1, wait_timeout=0)


def batch_argument_spec(**defaults):
    """A fresh copy of BATCH_ARGUMENT_SPEC, with the given defaults changed."""
    spec = {name: dict(option) for name, option in BATCH_ARGUMENT_SPEC.items()}
    for name, value in defaults.items():
        spec[name]["default"] = value
    return spec


class BatchError(Exception):
    """A problem with the requested batch, found before anything was changed."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class ModuleFailure(Exception):
    """The run failed after it started changing things; carries the partial result."""

    def __init__(self, msg, result=None):
        super().__init__(msg)
        self.result = result or {}


class BatchTimeout(Exception):
    """The batch did not finish in time; carries the partial result."""

    def __init__(self, done, pending, elapsed, observed):
        self.done = dict(done)
        self.pending = sorted(pending)
        self.elapsed = elapsed
        self.observed = observed
        super().__init__(
            "timed out after %.0f s: still waiting for %s; done: %s"
            % (elapsed, ", ".join(self.pending), ", ".join(sorted(self.done)) or "none")
        )


def check_minimums(params, minimums=None):
    """Problems with numeric options below their minimum, each naming the option and its value.

    minimums: {option: smallest allowed value}, on top of BATCH_MINIMUMS; poll_interval must be > 0.
    """
    bounds = dict(BATCH_MINIMUMS, **(minimums or {}))
    problems = []
    for name, low in bounds.items():
        value = params.get(name)
        if value is not None and value < low:
            problems.append("%s must be at least %s, got %s" % (name, low, value))
    if params.get("poll_interval") is not None and params["poll_interval"] <= 0:
        problems.append("poll_interval must be more than 0, got %s" % params["poll_interval"])
    return problems


def duplicates(names):
    """The names given more than once, in first-seen order."""
    seen, dups = set(), []
    for name in names:
        if name in seen and name not in dups:
            dups.append(name)
        seen.add(name)
    return dups


def run_concurrently(func, items, max_concurrency):
    """Call func(item) for every item, at most max_concurrency at once.

    Returns a list of (item, result, exception) in the order of items; one failure does not stop
    the others, so the caller can report every outcome.
    """
    items = list(items)
    if not items:
        return []

    def call(item):
        try:
            return item, func(item), None
        except Exception as exc:  # pylint: disable=broad-except
            return item, None, exc

    with ThreadPoolExecutor(max_workers=max(1, min(max_concurrency, len(items)))) as pool:
        return list(pool.map(call, items))


def wait_for_batch(poll, names, is_done, timeout, interval, clock=time.monotonic, sleep=time.sleep, on_poll=None, start=None):
    """Wait until is_done(name, observed.get(name)) holds for every name.

    poll() returns {name: observed} for the whole batch in one go, and is called once per
    interval, and once more exactly at the deadline (start + timeout) when the one before it
    was not enough. Returns (done, observed, elapsed) where done maps each name to the seconds
    it took since start (by default, now); raises BatchTimeout with the same partial data when
    the deadline passes first.
    """
    start = clock() if start is None else start
    deadline = start + timeout
    pending = set(names)
    done = {}
    while True:
        observed = poll()
        now = clock()
        elapsed = now - start
        for name in sorted(pending):
            if is_done(name, observed.get(name)):
                done[name] = round(elapsed, 2)
                pending.discard(name)
        if on_poll is not None:
            on_poll(done, pending, elapsed, observed)
        if not pending:
            return done, observed, round(elapsed, 2)
        if now >= deadline:
            raise BatchTimeout(done, pending, round(elapsed, 2), observed)
        sleep(min(interval, deadline - now))


def write_progress(path, what, total, done, pending, elapsed, done_word="done", done_count=None, note=None):
    """Write a batch's progress for a reader while the module runs: `done` names (or a sample of
    them, done_count being the number), `pending` {name: how far it got}, a `note`. JSON, replaced
    atomically; the collection's action plugins print it while the module waits
    (plugin_utils/progress.py). Never fails the run: it is for the eyes."""
    progress = dict(what=what, done_word=done_word, total=total, elapsed_seconds=round(elapsed, 1),
                    done=list(done), pending=dict(pending))
    if done_count is not None:
        progress["done_count"] = done_count
    if note:
        progress["note"] = note
    tmp = "%s.%d.tmp" % (path, os.getpid())
    try:
        with open(tmp, "w") as handle:
            json.dump(progress, handle)
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError):
        pass


class ApiCallCounter:
    """Counts API operations by name: botocore clients through attach(), others through add().

    attach() hooks botocore's before-send event, which fires once per HTTP attempt, so
    botocore's own retries and AWSRetry's count too.
    """

    # Answers that are tried again (botocore's retry handler, then AWSRetry): throttling, 429 and 5xx.
    TRANSIENT_CODES = frozenset(["Throttling", "ThrottlingException", "RequestLimitExceeded", "PriorRequestNotComplete",
                                 "TooManyRequestsException", "SlowDown", "RequestThrottled", "InternalFailure",
                                 "InternalError", "ServiceUnavailable", "Unavailable"])

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = Counter()
        self._retries = Counter()

    def attach(self, client, count_retries=True):
        """Count the client's HTTP attempts by operation, and (count_retries) its transient failures
        (throttling, 429, 5xx, connection errors), each of which is tried again: retries()."""
        client.meta.events.register("before-send.*.*", self._count)
        if count_retries:
            client.meta.events.register("needs-retry.*.*", self._count_transient)
        return client

    def _count(self, event_name="before-send.unknown.unknown", **kwargs):
        with self._lock:
            self._counts[event_name.rsplit(".", 1)[-1]] += 1

    def _count_transient(self, event_name="needs-retry.unknown.unknown", response=None, caught_exception=None, **kwargs):
        transient = caught_exception is not None
        if response is not None and not transient:
            http, parsed = response
            status = getattr(http, "status_code", 200)
            code = ((parsed or {}).get("Error") or {}).get("Code")
            transient = status == 429 or status >= 500 or code in self.TRANSIENT_CODES
        if transient:
            self.retried(event_name.rsplit(".", 1)[-1])

    def add(self, operation, count=1):
        with self._lock:
            self._counts[operation] += count

    def retried(self, operation, count=1):
        """One more attempt of `operation` failed transiently and is tried again."""
        with self._lock:
            self._retries[operation] += count

    def as_dict(self):
        with self._lock:
            return dict(sorted(self._counts.items()))

    def retries(self):
        """{operation: transient failures tried again}, the operations with none left out."""
        with self._lock:
            return dict(sorted(self._retries.items()))


# ---- the module flow --------------------------------------------------------------------------

class Adapter:
    """What a module tells the flow; see the module docstring. Subclasses override the methods."""

    noun = "resource"  # in messages: "Timed out ... waiting for 2 of 9 deployment(s)"
    # In the progress lines while the batch waits: "<progress_what>: 5/8 <progress_done_word> (...)".
    progress_what = None  # None: the noun, plural
    progress_done_word = "done"
    refusal = "Refusing to change anything"
    failure = "Failed to change"

    def observe(self):
        raise NotImplementedError

    def plan(self, observed):
        raise NotImplementedError

    def simulate(self, plan, observed):
        raise NotImplementedError

    def apply(self, plan):
        raise NotImplementedError

    def poll(self):
        raise NotImplementedError

    def is_done(self, action, state):
        raise NotImplementedError

    def summarise(self, plan, before, after, done, failures, check_mode):
        """{'results': [...], 'diff': {...}, ...}: merged into the module's result."""
        raise NotImplementedError

    def progress(self, name, state):  # pylint: disable=unused-argument
        """How far one pending resource got, for the progress lines and the timeout message; '' says nothing."""
        return ""

    def describe_error(self, exc):
        return str(exc)

    # A step that cannot start yet (an instance still being promoted): the flow waits with the rest of
    # the batch and, at every poll, hands those steps and what the poll saw to start_ready, which starts
    # the ones now ready and returns the plan with them replaced, and {name: exception} for failures.
    def is_deferred(self, action):  # pylint: disable=unused-argument
        return False

    def start_ready(self, plan, observed):  # pylint: disable=unused-argument
        return plan, {}


class BatchOptions:
    """The batch options of one run (from module.params), and check mode."""

    def __init__(self, params, check_mode=False, diff=True):
        self.check_mode = check_mode
        self.diff = diff  # --diff: the result carries the before/after of every resource
        self.max_concurrency = params["max_concurrency"]
        # A module with nothing to wait for (s3_crr_sync: a copy is done when it returns) leaves these out.
        self.wait = params.get("wait", True)
        self.wait_timeout = params.get("wait_timeout", BATCH_ARGUMENT_SPEC["wait_timeout"]["default"])
        self.poll_interval = params.get("poll_interval", BATCH_ARGUMENT_SPEC["poll_interval"]["default"])
        self.progress_file = params.get("progress_file")


def run_batch(adapter, options, counter, clock=time.monotonic, sleep=time.sleep):
    """The module flow. Returns the module result; raises BatchError (nothing changed) or ModuleFailure."""
    started = clock()
    polls = []

    def poll():
        polls.append(clock())
        return adapter.poll()

    observed = adapter.observe()
    plan = adapter.plan(observed)

    def finish(plan, after, seconds=None, failures=None, **extra):
        failures = failures or {}
        result = dict(
            changed=any(a.changed and a.name not in failures for a in plan),
            plan=[a.as_dict() for a in plan],
        )
        result.update(adapter.summarise(plan, observed, after, seconds or {}, failures, options.check_mode))
        result.update(extra, polls=len(polls), elapsed_seconds=round(clock() - started, 2), api_calls=counter.as_dict(),
                      retries=counter.retries())
        if not options.diff:
            result.pop("diff", None)  # the results hold before/after already; a second copy only with --diff
        return result

    if options.check_mode:
        return finish(plan, adapter.simulate(plan, observed))
    failures = {}
    if any(a.changed for a in plan):
        plan, failures = adapter.apply(plan)
    if failures:
        # What was started goes on; the next run finds it and waits for it.
        reasons = "; ".join("%s: %s" % (n, adapter.describe_error(e)) for n, e in sorted(failures.items()))
        raise ModuleFailure("%s %s" % (adapter.failure, reasons), finish(plan, poll(), failures=failures))
    names = [a.name for a in plan]
    if not any(a.changed for a in plan) and all(adapter.is_done(a, observed.get(a.name)) for a in plan):
        # Nothing written and everything already there: what was observed is the end state.
        return finish(plan, observed, {n: round(clock() - started, 2) for n in names})
    if not options.wait:
        return finish(plan, poll())
    actions = {a.name: a for a in plan}

    def poll_and_start():
        """A poll that also starts the deferred steps it finds ready (each once)."""
        nonlocal plan
        state = poll()
        if any(adapter.is_deferred(a) for a in plan):
            plan, started_failures = adapter.start_ready(plan, state)
            failures.update(started_failures)
            actions.update((a.name, a) for a in plan)
        return state

    def show_progress(done, pending, elapsed, observed):
        write_progress(options.progress_file, adapter.progress_what or adapter.noun + "s", len(names),
                       [n for n in names if n in done],
                       {n: adapter.progress(n, observed.get(n)) for n in sorted(pending)},
                       elapsed, adapter.progress_done_word)

    try:
        # a step that failed to start is not waited for (it is reported below)
        done, after, _elapsed = wait_for_batch(poll_and_start, names,
                                               lambda n, state: n in failures or adapter.is_done(actions[n], state),
                                               options.wait_timeout, options.poll_interval,
                                               clock=clock, sleep=sleep, start=started,
                                               on_poll=show_progress if options.progress_file else None)
    except BatchTimeout as timeout:
        waiting = []
        for name in timeout.pending:
            how = adapter.progress(name, timeout.observed.get(name))
            waiting.append("%s (%s)" % (name, how) if how else name)
        msg = "Timed out after %.0f s waiting for %d of %d %s(s): still waiting for %s; done: %s" % (
            timeout.elapsed, len(timeout.pending), len(plan), adapter.noun, ", ".join(waiting),
            ", ".join(sorted(timeout.done)) or "none")
        raise ModuleFailure(msg, finish(plan, timeout.observed, timeout.done, failures,
                                        pending=timeout.pending, done=sorted(timeout.done)))
    if failures:  # deferred steps that failed to start once ready
        reasons = "; ".join("%s: %s" % (n, adapter.describe_error(e)) for n, e in sorted(failures.items()))
        raise ModuleFailure("%s %s" % (adapter.failure, reasons), finish(plan, after, done, failures))
    return finish(plan, after, done)


def execute(module, adapter_factory, counter, minimums=None, flow=run_batch):
    """main()'s body for every module: check the numeric options, build the adapter, run the flow.

    adapter_factory(module) builds the adapter (and its clients); a BatchError there or in the
    flow refuses the run, naming every bad value, before anything changed. flow(adapter, options,
    counter): run_batch, or a module's own sequence of batches over the same adapter.
    """
    problems = check_minimums(module.params, minimums)
    if problems:
        module.fail_json(msg="; ".join(problems), problems=problems, changed=False)
    adapter = Adapter()
    try:
        adapter = adapter_factory(module)
        result = flow(adapter, BatchOptions(module.params, module.check_mode, module._diff), counter)  # pylint: disable=protected-access
    except BatchError as exc:
        module.fail_json(msg="%s: %s" % (adapter.refusal, exc), problems=exc.problems, changed=False,
                         api_calls=counter.as_dict(), retries=counter.retries())
    except ModuleFailure as exc:
        module.fail_json(msg=str(exc), **exc.result)
    except Exception as exc:  # pylint: disable=broad-except
        if hasattr(module, "fail_json_aws"):
            module.fail_json_aws(exc, msg=adapter.failure, api_calls=counter.as_dict(), retries=counter.retries())
        module.fail_json(msg="%s: %s" % (adapter.failure, adapter.describe_error(exc)),
                         exception=traceback.format_exc(), api_calls=counter.as_dict(), retries=counter.retries())
    module.exit_json(**result)


def diff_of(results, view=None, key=None, **context):
    """The --diff of a batch from its results: {name: view(before)} and {name: view(after)}.

    With key, the mappings go under that key, next to the context (e.g. the namespace).
    """
    def side(which):
        by_name = {r["name"]: (view(r[which]) if view and r[which] is not None else r[which]) for r in results}
        return dict(context, **{key: by_name}) if key else by_name
    return dict(before=side("before"), after=side("after"))
