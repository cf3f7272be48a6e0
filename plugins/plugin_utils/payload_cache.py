# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Build a play's module payloads ahead of its tasks, in a process beside the controller.

Before ansible runs a module for the first time in a run, the task's worker builds its payload
(AnsiballZ): it parses the module and, recursively, every module_util it imports (amazon.aws's
alone are ~20 files), zips them and keeps the zip in the run's own cache
(``<DEFAULT_LOCAL_TMP>/ansiballz_cache``, one entry per module, under ansible's own file lock).
That is ~50-100 ms of CPU for each module the first time, on the runbook's critical path: a
failover runs ~20 different modules, most of them once (~1.4 s in all).

``prebuild(play)`` forks a process that fills that same cache for the play's modules, in the
order the play names them, then those its roles' task files name (the tasks a role includes at
run time), while the controller works through the first tasks and the waits. A worker that
reaches a module first builds it itself (the lock makes the other wait, then read it): the
payload is the same either way, only built earlier. The process stops when the run ends (its
parent gone, or the run's temporary directory removed) and on any error: at worst nothing was
built ahead. ``LOMASHWOOD_PREBUILD=0`` turns it off.
"""

from __future__ import annotations

import glob
import os
import re

# ansible's action plugins that run other modules than their own name (in this collection's playbooks).
ACTION_MODULES = {
    "copy": ("ansible.legacy.stat", "ansible.legacy.copy", "ansible.legacy.file"),
    "template": ("ansible.legacy.stat", "ansible.legacy.copy", "ansible.legacy.file"),
    "file": ("ansible.legacy.file",),
    "command": ("ansible.legacy.command",),
    "shell": ("ansible.legacy.command",),
    # this collection's wait for an async job: async_status once per poll, the job started by async_wrapper
    "job_wait": ("ansible.legacy.async_wrapper", "ansible.legacy.async_status"),
    "uri": ("ansible.legacy.uri",),
    # the modules this collection's playbooks read together (preflight's reads), built ahead in that order
    "read_together": tuple(["lomashwood.multiregion." + name
                            for name in ("region_probe", "route53_failover", "rds_promote_batch", "k8s_secrets")]
                           + ["amazon.aws.aws_caller_info", "amazon.aws.rds_instance_info"]),
}
# Run by the strategy itself, no module (their files in ansible.modules are documentation).
NO_MODULE = {"meta", "include_tasks", "import_tasks", "include_role", "import_role", "import_playbook"}


def _short(action):
    return action.rsplit(".", 1)[-1]


_RUNS_ITSELF = {}


def _modules_run_by(action, collections=None):
    """The modules a task of this action runs: its own when its file is a module (has a main(); set_fact's,
    debug's or job_wait's file is only documentation for an action that runs none)."""
    from ansible.plugins.loader import module_loader  # pylint: disable=import-outside-toplevel

    short = _short(action or "")
    if short in ACTION_MODULES:
        return list(ACTION_MODULES[short])
    if not action or short in NO_MODULE:
        return []
    if action not in _RUNS_ITSELF:
        context = module_loader.find_plugin_with_context(action, collection_list=collections)
        path = context.plugin_resolved_path if context.resolved else None
        try:
            with open(path, encoding="utf-8") as handle:
                _RUNS_ITSELF[action] = path.endswith(".py") and "\ndef main(" in handle.read()
        except (OSError, TypeError, ValueError):
            _RUNS_ITSELF[action] = False
    return [action] if _RUNS_ITSELF[action] else []


def play_modules(play, with_roles=False):
    """The module names the play's tasks run, in the order they come (static tasks and imported roles),
    and the roles the play names (imported, or included by name). with_roles: each role's task files'
    modules too (role_modules: what it includes at run time), where the play first names the role."""
    from ansible.playbook.block import Block  # pylint: disable=import-outside-toplevel

    names, roles = [], []

    def met(role):
        if role not in roles:
            roles.append(role)
            if with_roles:
                names.extend(role_modules([role]))

    def walk(block):
        for part in (block.block, block.rescue, block.always):
            for item in part or []:
                if isinstance(item, Block):
                    walk(item)
                    continue
                role = getattr(item, "_role", None)
                if role is not None:
                    met(role.get_name())
                names.extend(_modules_run_by(item.action, item.collections))
                if _short(item.action or "") in ("include_role", "import_role") and isinstance(item.args.get("name"), str):
                    met(item.args["name"])

    for block in play.compile():
        walk(block)
    return names, roles


# A task's module, as this collection's roles write it: an FQCN key; a role named by include_role/import_role.
_TASK_KEY = re.compile(r"^\s*(?:-\s+)?([a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+):", re.M)
_ROLE_NAME = re.compile(r"^\s*name:\s*([a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+)\s*$", re.M)


def role_modules(roles):
    """The modules the roles' task files name (what they include at run time among them), and of the roles
    those name; roles that cannot be found here are passed over."""
    from ansible.utils.collection_loader._collection_finder import _get_collection_role_path  # pylint: disable=import-outside-toplevel

    names, seen, queue = [], set(), list(roles)
    while queue:
        role = queue.pop(0)
        if role in seen:
            continue
        seen.add(role)
        found = _get_collection_role_path(role) if role.count(".") == 2 else None
        if not found:
            continue
        for task_file in sorted(glob.glob(os.path.join(found[1], "tasks", "*.yml"))):
            with open(task_file, encoding="utf-8") as handle:
                text = handle.read()
            for action in _TASK_KEY.findall(text):
                names.extend(_modules_run_by(action))
            queue.extend(_ROLE_NAME.findall(text))
    return names


def build(name, compression, templar):
    """Put one module's payload in this run's cache (as its first task's worker would); True when built or there."""
    from ansible.executor.module_common import modify_module  # pylint: disable=import-outside-toplevel
    from ansible.plugins.loader import module_loader  # pylint: disable=import-outside-toplevel

    context = module_loader.find_plugin_with_context(name)
    if not context.resolved or not context.plugin_resolved_path.endswith(".py"):
        return False
    try:
        modify_module(module_name=context.resolved_fqcn, module_path=context.plugin_resolved_path, module_args={},
                      templar=templar, task_vars={}, module_compression=compression, remote_is_local=True)
    except Exception:  # pylint: disable=broad-except
        pass  # after the payload is cached, the interpreter and wrapper steps may want the task's vars
    return True


def _run(play, parent):
    from ansible import constants as C  # pylint: disable=import-outside-toplevel
    from ansible.parsing.dataloader import DataLoader  # pylint: disable=import-outside-toplevel
    from ansible.template import Templar  # pylint: disable=import-outside-toplevel

    local_tmp = C.DEFAULT_LOCAL_TMP
    compression = C.config.get_config_value("DEFAULT_MODULE_COMPRESSION")
    templar = Templar(loader=DataLoader())
    # Each role's run-time includes (preflight's checks, a step's tasks_from) where the play first reaches it.
    names, _roles = play_modules(play, with_roles=True)
    seen = set()
    for name in names:
        if name in seen:
            continue
        seen.add(name)
        # The run is over (ansible removes its temporary directory at exit): build nothing into a new one.
        if os.getppid() != parent or not os.path.isdir(local_tmp):
            return
        build(name, compression, templar)


def prebuild(play):
    """Fork the builder for the play; returns at once (the child's pid, or None when it is off or failed)."""
    if os.environ.get("LOMASHWOOD_PREBUILD", "1") == "0":
        return None
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        return None
    if pid:
        import threading  # pylint: disable=import-outside-toplevel
        threading.Thread(target=os.waitpid, args=(pid, 0), daemon=True).start()  # reaped when it ends
        return pid
    # The child: ansible's state, copied; it prints nothing and never returns into ansible.
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.nice(3)  # behind the run's own work on a busy controller
        _run(play, parent)
    except BaseException:  # pylint: disable=broad-except
        pass
    os._exit(0)  # pylint: disable=protected-access
