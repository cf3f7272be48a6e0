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
    A task that is retried (C(until)/C(retries)) gets, once per attempt,
    "waiting: <task>: attempt 3 of 30, 12s so far" with the reason the last attempt gave. (The
    collection's own waits do not retry: its modules print what is done and what is pending while
    they wait, and M(lomashwood.multiregion.job_wait) does for a batch run as an async job.)
  - >-
    When a runbook step ends (a role appends its record to C(dr_steps), the list the report is
    made of), one line with the step, its outcome and its elapsed time, and the run's time so far,
    for example "step promote_databases: changed in 41.2 s (run 1m 12s)".
  - >-
    When a play starts, it forks a process that builds the payloads of the modules the play's
    tasks and its roles' task files run into the run's own payload cache before their first tasks
    need them, so a worker does not build them on the run's critical path. C(LOMASHWOOD_PREBUILD=0)
    in the environment turns that off. Where the play's hosts use the warm interpreter (the
    C(lomashwood.multiregion.warm_python) lookup), it starts its server at the same moment.
  - Enable it in C(ansible.cfg) with C(callbacks_enabled = lomashwood.multiregion.progress) (the
    collection's own C(ansible.cfg) does), or with C(ANSIBLE_CALLBACKS_ENABLED).
requirements:
  - enable in configuration (C(callbacks_enabled))
author:
  - Lomash Wood platform team (@lomashwood)
"""

import time

from ansible.plugins.callback import CallbackBase

from ansible_collections.lomashwood.multiregion.plugins.plugin_utils import payload_cache, warm_python
from ansible_collections.lomashwood.multiregion.plugins.plugin_utils.progress import duration


def _uses_warm_python(play):
    """Whether a host of the play sets ansible_python_interpreter to the warm_python lookup (its own or
    its groups' inventory variables, as written, not templated)."""
    try:
        inventory = play.get_variable_manager()._inventory  # pylint: disable=protected-access
        for host in inventory.get_hosts(play.hosts):
            for owner in [host] + host.get_groups():
                if "warm_python" in str(owner.vars.get("ansible_python_interpreter", "")):
                    return True
    except Exception:  # pylint: disable=broad-except
        pass  # only a head start: without it the first module starts the server
    return False


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "lomashwood.multiregion.progress"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None, options=None):
        super().__init__(display=display, options=options)
        self._started = time.time()
        self._task_started = {}
        self._steps_seen = {}  # host -> how many dr_steps records were printed

    def v2_playbook_on_start(self, playbook):
        self._started = time.time()

    def v2_playbook_on_play_start(self, play):
        # The play's module payloads, built beside the run before its tasks need them (payload_cache).
        payload_cache.prebuild(play)
        # The warm interpreter's server, loading while the first tasks run, where the play's hosts use it.
        if _uses_warm_python(play):
            warm_python.prestart()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_started[task._uuid] = time.time()  # pylint: disable=protected-access

    def v2_runner_on_ok(self, result):
        res = result._result  # pylint: disable=protected-access
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
        run = duration(time.time() - self._started)
        return "step %s: %s%s (run %s)" % (step.get("step", "?"), step.get("outcome", "done"), took, run)

    def v2_runner_retry(self, result):
        res = result._result  # pylint: disable=protected-access
        task = result._task  # pylint: disable=protected-access
        started = self._task_started.get(task._uuid, time.time())  # pylint: disable=protected-access
        line = "waiting: %s: attempt %s of %s, %s so far" % (
            result.task_name or task.get_name(), res.get("attempts", "?"), res.get("retries", "?"),
            duration(time.time() - started))
        why = res.get("msg") if not task.no_log else None
        if isinstance(why, str) and why:
            line += " (%s)" % (why if len(why) <= 160 else why[:157] + "...")
        self._display.display(line)
