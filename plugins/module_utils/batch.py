# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Batch helpers shared by every module of the collection.

Failover work is many independent resources at once: run their calls concurrently, wait on the
whole batch with one shared poll per interval (never one waiter per resource), and count the API
calls made so runs can be compared. Clock and sleep are injectable so unit tests never sleep.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor


class BatchError(Exception):
    """A problem with the requested batch, found before anything was changed."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


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
    """Wait until is_done(observed[name]) holds for every name.

    poll() returns {name: observed} for the whole batch in one go, and is called once per
    interval. Returns (done, observed, elapsed) where done maps each name to the seconds it took
    since start (by default, now); raises BatchTimeout with the same partial data when timeout
    passes first.
    """
    start = clock() if start is None else start
    pending = set(names)
    done = {}
    observed = {}
    while True:
        observed = poll()
        elapsed = clock() - start
        for name in sorted(pending):
            if is_done(observed.get(name)):
                done[name] = round(elapsed, 2)
                pending.discard(name)
        if on_poll is not None:
            on_poll(done, pending, elapsed)
        if not pending:
            return done, observed, round(elapsed, 2)
        if elapsed + interval > timeout:
            raise BatchTimeout(done, pending, round(elapsed, 2), observed)
        sleep(interval)


class ApiCallCounter:
    """Counts AWS API operations made through botocore clients, by operation name.

    Hooks botocore's before-send event, which fires once per HTTP attempt, so botocore's own
    retries and AWSRetry's count too.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = Counter()

    def attach(self, client):
        client.meta.events.register("before-send.*.*", self._count)
        return client

    def _count(self, event_name="before-send.unknown.unknown", **kwargs):
        with self._lock:
            self._counts[event_name.rsplit(".", 1)[-1]] += 1

    def add(self, operation, count=1):
        with self._lock:
            self._counts[operation] += count

    def as_dict(self):
        with self._lock:
            return dict(sorted(self._counts.items()))
