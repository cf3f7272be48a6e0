# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os
import time

from ansible.plugins.action import ActionBase

from ansible_collections.lomashwood.multiregion.plugins.plugin_utils.progress import (
    ProgressPrinter, progress_line, read_progress, runs_here)


# On the controller, how often the job's status file is looked at between polls: a stat, where a poll is a
# module run (async_status); a change to the file (the job's result written) brings the next poll forward.
GLANCE_SECONDS = 0.1


def _stamp(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class ActionModule(ActionBase):
    """Wait for an async job (ansible.builtin.async_status once per poll), printing the progress its
    module writes, instead of an until/retries loop that prints "FAILED - RETRYING" once a poll."""

    _supports_check_mode = True
    _supports_async = False

    ARGUMENT_SPEC = dict(
        jid=dict(type="str", required=True),
        progress_file=dict(type="path"),
        timeout=dict(type="int", default=3600),
        poll_interval=dict(type="float", default=5),
    )

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # no effect since ansible-core 2.x; kept in the signature
        _valid, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        problems = []
        if args["timeout"] < 0:
            problems.append("timeout must be at least 0, got %s" % args["timeout"])
        if args["poll_interval"] <= 0:
            problems.append("poll_interval must be more than 0, got %s" % args["poll_interval"])
        if problems:
            return dict(result, failed=True, msg="; ".join(problems))
        # The directory the job was started with (the task's ansible_async_dir, as async_status reads it).
        async_dir = self._remote_expand_user(self.get_shell_option("async_dir", default="~/.ansible_async"))
        here = runs_here(self._connection)
        progress_file = args["progress_file"] if here else None
        job_file = os.path.join(async_dir, args["jid"]) if here else None
        printer = ProgressPrinter(self._display.display)
        started = time.monotonic()
        deadline = started + args["timeout"]
        polls = 0
        try:
            while True:
                # The file's state before the look: a result written while async_status runs is still
                # a change for the glances after it (taken after, it would wait a whole poll_interval).
                seen = _stamp(job_file) if job_file else None
                status = self._execute_module(module_name="ansible.legacy.async_status", task_vars=task_vars,
                                              module_args=dict(jid=args["jid"], mode="status", _async_dir=async_dir))
                polls += 1
                if status.get("finished") or status.get("failed"):
                    break
                if progress_file:
                    printer.update(read_progress(progress_file))
                now = time.monotonic()
                if now >= deadline:
                    last = read_progress(progress_file) if progress_file else None
                    return dict(result, failed=True, ansible_job_id=args["jid"], started=True, finished=False,
                                wait_polls=polls, msg="The job %s did not finish within %s s (it goes on running; "
                                "wait for it again to take it up)%s" % (
                                    args["jid"], args["timeout"], ": " + progress_line(last) if last else ""))
                self._until_next_poll(job_file, progress_file, printer, min(now + args["poll_interval"], deadline), seen)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)  # pylint: disable=protected-access
        result.update(status)
        for flag in ("started", "finished"):  # async_status's ints, as booleans (as its action does)
            result[flag] = bool(result.get(flag, True))
        result.update(ansible_job_id=args["jid"], wait_polls=polls, wait_seconds=round(time.monotonic() - started, 2))
        return result

    @staticmethod
    def _until_next_poll(job_file, progress_file, printer, when, seen=None):
        """Sleep until `when`; on the controller, until the job's status file differs from `seen` (its state
        before the last look) if that is sooner (the job wrote its result: poll now, not up to poll_interval
        later), showing its progress meanwhile."""
        if job_file is None:
            time.sleep(max(0.0, when - time.monotonic()))
            return
        while time.monotonic() < when:
            time.sleep(min(GLANCE_SECONDS, max(0.0, when - time.monotonic())))
            if _stamp(job_file) != seen:
                return
            if progress_file:
                printer.update(read_progress(progress_file))
