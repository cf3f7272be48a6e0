# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: progress
type: aggregate
short_description: Say what a long wait is waiting for, and how long each runbook step took
version_added: 0.2.0
description:
  - An aggregate callback that runs next to whatever prints the job output (the C(default)
    callback in a terminal, C(awx_display) in AWX, Automation Controller and ansible-runner) and
    adds two kinds of lines to it.
  - >-
    During a wait, once per poll, what is done and what is pending. For a batch that reports its
    progress (C(rds_promote_batch) with I(progress_file), run as an async job and waited for with
    C(async_status)), for example
    "promotions: 5/8 available (auth, orders, ...), pending: analytics (modifying); 41s so far".
    Any other task that is retried (C(until)/C(retries)) gets
    "waiting: <task>: attempt 3 of 30, 12s so far" with the reason the last attempt gave.
  - >-
    When a runbook step ends (a role appends its record to C(dr_steps), the list the report is
    made of), one line with the step, its outcome and its elapsed time, and the run's time so far,
    for example "step promote_databases: changed in 41.2 s (run 1m 12s)".
  - Enable it in C(ansible.cfg) with C(callbacks_enabled = lomashwood.multiregion.progress) (the
    collection's own C(ansible.cfg) does), or with C(ANSIBLE_CALLBACKS_ENABLED).
requirements:
  - enable in configuration (C(callbacks_enabled))
author:
  - Lomash Wood platform team (@lomashwood)
"""

import json
import time

from ansible.plugins.callback import CallbackBase


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


def _duration(seconds):
    seconds = int(round(seconds))
    if seconds < 60:
        return "%ds" % seconds
    if seconds < 3600:
        return "%dm %02ds" % divmod(seconds, 60)
    hours, rest = divmod(seconds, 3600)
    return "%dh %02dm" % (hours, rest // 60)


def progress_line(progress):
    """One line from a batch's progress file (see rds_promote_batch's progress_file)."""
    total = progress.get("total", 0)
    done = progress.get("done", [])
    pending = progress.get("pending", {})
    short = dict(zip(list(done) + sorted(pending), _short_names(list(done) + sorted(pending))))
    line = "%s: %d/%d %s" % (progress.get("what", "batch"), len(done), total, progress.get("done_word", "done"))
    if done:
        line += " (%s)" % _listed(short[n] for n in done)
    if pending:
        waiting = ["%s (%s)" % (short[n], state) if state else short[n] for n, state in sorted(pending.items())]
        line += ", pending: %s" % _listed(waiting)
    line += "; %s so far" % _duration(progress.get("elapsed_seconds", 0))
    return line


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "lomashwood.multiregion.progress"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None, options=None):
        super().__init__(display=display, options=options)
        self._started = time.time()
        self._task_started = {}
        self._progress_files = {}  # async job id -> the progress file its module writes
        self._steps_seen = {}  # host -> how many dr_steps records were printed

    def v2_playbook_on_start(self, playbook):
        self._started = time.time()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_started[task._uuid] = time.time()  # pylint: disable=protected-access

    def v2_runner_on_ok(self, result):
        res = result._result  # pylint: disable=protected-access
        task = result._task  # pylint: disable=protected-access
        jid = res.get("ansible_job_id")
        path = (task.args or {}).get("progress_file") if isinstance(task.args, dict) else None
        if jid and path and isinstance(path, str):
            self._progress_files[jid] = path
        steps = (res.get("ansible_facts") or {}).get("dr_steps")
        if isinstance(steps, list):
            host = result._host.get_name()  # pylint: disable=protected-access
            for step in steps[self._steps_seen.get(host, 0):]:
                self._display.display(self._step_line(step))
            self._steps_seen[host] = len(steps)

    def _step_line(self, step):
        try:
            seconds = float(step.get("ended")) - float(step.get("started"))
            took = " in %.1f s" % seconds
        except (TypeError, ValueError):
            took = ""
        run = _duration(time.time() - self._started)
        return "step %s: %s%s (run %s)" % (step.get("step", "?"), step.get("outcome", "done"), took, run)

    def v2_runner_retry(self, result):
        res = result._result  # pylint: disable=protected-access
        task = result._task  # pylint: disable=protected-access
        path = self._progress_files.get(res.get("ansible_job_id"))
        if path:
            try:
                with open(path) as handle:
                    self._display.display(progress_line(json.load(handle)))
                return
            except (OSError, ValueError):
                pass  # not written yet: say at least that it waits
        started = self._task_started.get(task._uuid, time.time())  # pylint: disable=protected-access
        line = "waiting: %s: attempt %s of %s, %s so far" % (
            result.task_name or task.get_name(), res.get("attempts", "?"), res.get("retries", "?"),
            _duration(time.time() - started))
        why = res.get("msg") if not task.no_log else None
        if isinstance(why, str) and why:
            line += " (%s)" % (why if len(why) <= 160 else why[:157] + "...")
        self._display.display(line)
