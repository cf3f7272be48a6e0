# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Progress an operator can read while a module of this collection waits (controller side).

A batch module writes its progress to a file after every poll while it waits (module_utils/batch.py
write_progress: which resources are done, how far each pending one got). These helpers turn that
file into one line, e.g.

    promotions: 5/8 available (auth, orders, ...), pending: analytics (modifying); 41s so far

and decide when to print it: when a resource is done, when something else changed but not more
often than every CHANGE_GAP seconds, and every HEARTBEAT seconds when nothing did. ProgressAction
is the action of every waiting module: it runs the module as ansible-core's `normal` action does
and prints those lines while it runs. They reach the job output through ansible's Display (from
the worker process, as every task's output does), so any stdout callback shows them: the
terminal's default one and AWX's alike. No `until`/`retries` loop, so no "FAILED - RETRYING".
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

CHANGE_GAP = 10  # seconds between two lines when something other than a resource finishing changed
HEARTBEAT = 30  # seconds between two lines when nothing changed: still waiting, and for how long
READ_EVERY = 0.5  # seconds between two reads of the progress file while the module runs


def _short_names(names):
    """Names without the part they all share at each end: lomash-auth-prod-replica -> auth."""
    names = list(names)
    if len(names) < 2:
        return names
    parts = [n.split("-") for n in names]
    head = 0
    while all(len(p) > head + 1 for p in parts) and len({p[head] for p in parts}) == 1:
        head += 1
    tail = 0
    while all(len(p) > head + tail + 1 for p in parts) and len({p[-1 - tail] for p in parts}) == 1:
        tail += 1
    return ["-".join(p[head:len(p) - tail]) for p in parts]


def _listed(names, limit=4):
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (", ..." if len(names) > limit else "")


def duration(seconds):
    seconds = int(round(seconds))
    if seconds < 60:
        return "%ds" % seconds
    if seconds < 3600:
        return "%dm %02ds" % divmod(seconds, 60)
    hours, rest = divmod(seconds, 3600)
    return "%dh %02dm" % (hours, rest // 60)


def progress_line(progress):
    """One line from a batch's progress file (module_utils/batch.py write_progress).

    done: the names done (or a sample of them, with done_count the number); pending: {name: how
    far it got}; note: anything else worth saying (e.g. how much of a listing was read)."""
    total = progress.get("total", 0)
    done = list(progress.get("done") or [])
    pending = progress.get("pending") or {}
    count = progress.get("done_count", len(done))
    short = dict(zip(done + sorted(pending), _short_names(done + sorted(pending))))
    line = "%s: %d/%d %s" % (progress.get("what", "batch"), count, total, progress.get("done_word", "done"))
    if done:
        line += " (%s)" % _listed([short[n] for n in done] + ([] if count <= len(done) else ["..."]))
    if pending:
        waiting = ["%s (%s)" % (short[n], state) if state else short[n] for n, state in sorted(pending.items())]
        line += ", pending: %s" % _listed(waiting)
    if progress.get("note"):
        line += ", %s" % progress["note"]
    line += "; %s so far" % duration(progress.get("elapsed_seconds", 0))
    return line


def read_progress(path):
    """The progress file's content, or None while there is none (not written yet, or half a write)."""
    try:
        with open(path) as handle:
            progress = json.load(handle)
    except (OSError, ValueError):
        return None
    return progress if isinstance(progress, dict) else None


class ProgressPrinter:
    """Decides which progress readings become a line of output (see the module docstring)."""

    def __init__(self, show, clock=time.monotonic):
        self.show, self.clock = show, clock
        self.last_done, self.last_state, self.last_shown = None, None, clock()

    def update(self, progress):
        if not progress:
            return False
        # A new batch in the same run (route53_failover mode=shift's next step) shows at once, as a resource done
        # does; a new note (a hold begins) as any other change.
        done = (progress.get("what"), tuple(progress.get("done") or ()))
        state = (tuple(sorted((progress.get("pending") or {}).items())), progress.get("note"))
        quiet_for = self.clock() - self.last_shown
        if not (done != self.last_done or (state != self.last_state and quiet_for >= CHANGE_GAP)
                or quiet_for >= HEARTBEAT):
            return False
        self.show(progress_line(progress))
        self.last_done, self.last_state, self.last_shown = done, state, self.clock()
        return True


def run_showing_progress(func, path, show, read_every=READ_EVERY):
    """func() (a module run that writes its progress to path), printing its progress while it runs."""
    outcome = {}

    def target():
        try:
            outcome["result"] = func()
        except BaseException as exc:  # pylint: disable=broad-except
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="module", daemon=True)
    worker.start()
    printer = ProgressPrinter(show)
    while worker.is_alive():
        worker.join(read_every)
        if worker.is_alive():
            printer.update(read_progress(path))
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def runs_here(connection):
    """Whether the task runs on this machine (its progress file can be read here)."""
    return str(getattr(connection, "transport", "")).rsplit(".", 1)[-1] == "local"


class ProgressAction(ActionBase):
    """The action of a module that waits: runs it as ansible-core's `normal` action does (async too),
    and, when it runs on this machine and not as an async job, prints its progress while it waits."""

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # no effect since ansible-core 2.x; kept in the signature
        wrap_async = self._task.async_val
        if wrap_async or not runs_here(self._connection):
            module_result = self._execute_module(task_vars=task_vars, wrap_async=wrap_async)
        else:
            module_result = self._run_showing_progress(task_vars)
        result = merge_hash(result, module_result)
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)  # pylint: disable=protected-access
        return result

    def _run_showing_progress(self, task_vars):
        args = dict(self._task.args)
        own_file = not args.get("progress_file")
        if own_file:
            handle, args["progress_file"] = tempfile.mkstemp(prefix="lomashwood-progress-", suffix=".json")
            os.close(handle)
            os.unlink(args["progress_file"])  # the module writes it whole; until then there is none
        try:
            return run_showing_progress(
                lambda: self._execute_module(module_args=args, task_vars=task_vars, wrap_async=False),
                args["progress_file"], self._display.display)
        finally:
            if own_file:
                try:
                    os.unlink(args["progress_file"])
                except OSError:
                    pass
