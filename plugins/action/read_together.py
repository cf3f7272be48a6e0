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

import os
import signal
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
           "elasticache_redis", "s3_crr_sync", "failover_capabilities",
           # amazon.aws's info modules, by their FQCN: they only read
           "amazon.aws.aws_caller_info", "amazon.aws.rds_instance_info")


class ActionModule(ActionBase):
    """Run each read (a module of this collection, in check mode) in a thread; one result each."""

    _supports_check_mode = True
    _supports_async = False

    def _bad_reads(self, reads, gate):
        if not isinstance(reads, dict) or not reads:
            return ["reads: a mapping of a name to {module, args} is required, got %r" % (reads,)]
        problems = [] if gate is None or gate in reads else ["gate: %r is not one of the reads (%s)" % (gate, ", ".join(reads))]
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
    # made for threads: it runs under this lock, one read at a time, in the order of the reads (the gate
    # first; the reads that wait longest should come early); only the module's process, where a read
    # waits on the network, runs at the same time as the others'.
    _serial = threading.Lock()
    _in_read = threading.local()

    def _read(self, module, args, task_vars, turns=None, turn=0):
        name = module if "." in module else COLLECTION + module
        if turns is not None:
            with turns["next"]:
                turns["next"].wait_for(lambda: turns["at"] == turn)
        with self._serial:
            if turns is not None:
                with turns["next"]:
                    turns["at"] += 1
                    turns["next"].notify_all()
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
        reads, gate = self._task.args.get("reads"), self._task.args.get("gate")
        problems = self._bad_reads(reads, gate) + [
            "%s: unknown option" % key for key in self._task.args if key not in ("reads", "gate")]
        if problems:
            raise AnsibleActionFail("; ".join(problems))
        # Every read in check mode: nothing changes, whatever the play's mode.
        self._task.check_mode = True
        modules = {name: str(read["module"]).replace(COLLECTION, "") for name, read in reads.items()}
        started = time.monotonic()
        results, stopped = self._run_reads(reads, modules, gate, task_vars)
        failed = [name for name in reads if results[name].get("failed")]
        result.update(results=results, changed=False, elapsed_seconds=round(time.monotonic() - started, 2))
        if stopped:
            result.update(stopped_by=gate)
        if failed:
            result.update(failed=True, msg="; ".join(
                "%s (%s): %s" % (name, modules[name], results[name].get("msg", "failed")) for name in failed))
        return result

    def _run_reads(self, reads, modules, gate, task_vars):
        """Each read in a thread of its own (in turn, the gate first, without pipelining: threads share the
        connection, and without pipelining a run makes and removes a remote temporary directory the connection
        holds). Returns (results, whether the gate stopped the others)."""
        results, done = {}, threading.Condition()

        order = sorted(reads, key=lambda name: name != gate)
        turns = {"at": 0, "next": threading.Condition()}

        def run_one(name, threaded=True):
            try:
                outcome = self._read(modules[name], reads[name].get("args") or {}, task_vars,
                                     turns if threaded else None, order.index(name))
            except Exception as exc:  # pylint: disable=broad-except
                outcome = {"failed": True, "msg": "%s: %s" % (type(exc).__name__, exc)}
            with done:
                results[name] = outcome
                done.notify_all()

        if not self._is_pipelining_enabled("new"):
            for name in order:
                run_one(name, threaded=False)
                if name == gate and not _answered(results[name]):
                    return dict(results, **{other: _not_waited_for(gate) for other in order[1:]}), True
            return results, False
        # Daemon threads: a read the gate stopped is not waited for when the worker ends.
        for name in order:
            threading.Thread(target=run_one, args=(name,), daemon=True).start()
        with done:
            while len(results) < len(reads):
                if gate in results and not _answered(results[gate]):
                    break
                done.wait()
            if len(results) == len(reads):
                return dict(results), False
            waiting = [name for name in reads if name not in results]
        _end_children()
        return dict(results, **{name: _not_waited_for(gate) for name in waiting}), True


def _answered(result):
    return not result.get("failed") and result.get("answered", True) is not False


def _not_waited_for(gate):
    return {"skipped": True, "changed": False,
            "msg": "not waited for: %s did not answer (read_together's gate), so this read was stopped" % gate}


def _end_children():
    """End the processes this worker started for the reads still running (each with what it started),
    as Ansible ends a module whose task timed out. Where /proc cannot be read, they are left to end on
    their own: a read changes nothing."""
    try:
        parents = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/%s/stat" % entry, encoding="utf-8") as handle:
                        # pid (comm) state ppid ...: comm may hold spaces and parentheses
                        parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
    except OSError:
        return
    tree, frontier = [], [os.getpid()]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    for pid in tree:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
