# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""read_together: several of this collection's modules, in check mode, at once, in one task.

Each read a runbook makes before it changes anything (a region probe, Route 53's status, the Secrets'
check) costs Ansible a task of its own, one after another: on a warm controller most of such a task is
Ansible's own work around a module that waits ~0.1 s on the network. Here each read is the same module
run (its own payload and process, through the task's connection and interpreter, with the play's
module_defaults for it), started in a thread of its own, so the task lasts as long as the slowest read.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time

from ansible.errors import AnsibleActionFail
# What gather_facts and package use for the modules they pick (ansible-core 2.20 and 2.21).
from ansible.executor.module_common import _apply_action_arg_defaults
from ansible.plugins.action import ActionBase

COLLECTION = "lomashwood.multiregion."
# The modules it runs: those whose check mode reads and changes nothing, and that have no action
# plugin of their own doing more than printing progress.
READERS = ("region_probe", "route53_failover", "k8s_secrets", "rds_promote_batch", "rds_modify_batch",
           "rds_replica_batch", "rds_retire_batch", "eks_scale_services", "eks_nodegroup_scale",
           "elasticache_redis", "s3_crr_sync", "failover_capabilities")


class ActionModule(ActionBase):
    """Run each read (a module of this collection, in check mode) in a thread; one result each."""

    _supports_check_mode = True
    _supports_async = False

    def _bad_reads(self, reads):
        if not isinstance(reads, dict) or not reads:
            return ["reads: a mapping of a name to {module, args} is required, got %r" % (reads,)]
        problems = []
        for name, read in reads.items():
            if not isinstance(read, dict) or set(read) - {"module", "args"}:
                problems.append("reads.%s: {module, args} is required, got %r" % (name, read))
                continue
            module = str(read.get("module", "")).replace(COLLECTION, "")
            if module not in READERS:
                problems.append("reads.%s.module: %r is not one of this collection's modules that read in check mode (%s)"
                                % (name, read.get("module"), ", ".join(READERS)))
            if not isinstance(read.get("args", {}), dict):
                problems.append("reads.%s.args: a mapping is required, got %r" % (name, read.get("args")))
        return problems

    # Ansible's own work for a module run (templating, loading plugins, building the payload) is not
    # made for threads: it runs under this lock, one read at a time; only the module's process, where
    # a read waits on the network, runs at the same time as the others'.
    _serial = threading.Lock()
    _in_read = threading.local()

    def _read(self, module, args, task_vars):
        name = COLLECTION + module
        with self._serial:
            self._in_read.active = True
            try:
                args = _apply_action_arg_defaults(name, self._task, dict(args), self._templar)
                result = self._execute_module(module_name=name, module_args=args, task_vars=task_vars)
            finally:
                self._in_read.active = False
        return {key: value for key, value in result.items() if not key.startswith("_ansible")}

    def _low_level_execute_command(self, *args, **kwargs):  # pylint: disable=arguments-differ
        if not getattr(self._in_read, "active", False):
            return super()._low_level_execute_command(*args, **kwargs)
        self._serial.release()
        try:
            return super()._low_level_execute_command(*args, **kwargs)
        finally:
            self._serial.acquire()

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # no effect since ansible-core 2.x; kept in the signature
        reads = self._task.args.get("reads")
        problems = self._bad_reads(reads) + ["%s: unknown option" % key for key in self._task.args if key != "reads"]
        if problems:
            raise AnsibleActionFail("; ".join(problems))
        # Every read in check mode: nothing changes, whatever the play's mode.
        self._task.check_mode = True
        modules = {name: str(read["module"]).replace(COLLECTION, "") for name, read in reads.items()}
        # Threads share the connection: with pipelining each run is one process fed on stdin; without
        # it a run makes and removes a remote temporary directory the connection holds, so they go in turn.
        workers = len(reads) if self._is_pipelining_enabled("new") else 1
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {name: pool.submit(self._read, modules[name], reads[name].get("args") or {}, task_vars)
                       for name in reads}
            results = {}
            for name, future in futures.items():
                try:
                    results[name] = future.result()
                except Exception as exc:  # pylint: disable=broad-except
                    results[name] = {"failed": True, "msg": "%s: %s" % (type(exc).__name__, exc)}
        failed = [name for name in reads if results[name].get("failed")]
        result.update(results=results, changed=False, elapsed_seconds=round(time.monotonic() - started, 2))
        if failed:
            result.update(failed=True, msg="; ".join(
                "%s (%s): %s" % (name, modules[name], results[name].get("msg", "failed")) for name in failed))
        return result
