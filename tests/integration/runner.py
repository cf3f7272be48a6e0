"""Run modules and playbooks the way a user does: through the ansible CLI, JSON results back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
MUTATING_RDS = ("rds:PromoteReadReplica", "rds:AddTagsToResource", "rds:ModifyDBInstance", "rds:DeleteDBInstance")


def ansible_env(extra=None):
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_NOCOLOR="1",
    )
    env.update(extra or {})
    return env


def module_command(module, args, check=False, diff=False, verbosity=0, tree=None):
    cmd = [os.path.join(BIN, "ansible"), "localhost", "-i", "localhost,", "-c", "local",
           "-m", module if "." in module else "lomashwood.multiregion." + module, "-a", json.dumps(args)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    if tree:
        cmd += ["--tree", tree]
    return cmd


def run_module(module, args, check=False, diff=False, env=None, timeout=300, verbosity=0):
    """The module's result dict (with 'failed' when it failed), and the raw output in '_stdout'."""
    with tempfile.TemporaryDirectory() as tree:
        proc = subprocess.run(module_command(module, args, check, diff, verbosity, tree), cwd=ROOT,
                              env=ansible_env(env), capture_output=True, text=True, timeout=timeout, check=False)
        try:
            with open(os.path.join(tree, "localhost")) as f:
                result = json.load(f)
        except (OSError, ValueError):
            raise AssertionError("no result (rc=%s):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))
    result.setdefault("failed", proc.returncode != 0)
    result["_stdout"] = proc.stdout + proc.stderr
    return result


def run_playbook(playbook, inventory="inventories/local", extra_vars=None, check=False, diff=False,
                 env=None, tags=None, timeout=600, verbosity=0):
    """Run a playbook as an operator would; returns the CompletedProcess with its human output."""
    cmd = [os.path.join(BIN, "ansible-playbook"), playbook, "-i", inventory]
    for key, value in (extra_vars or {}).items():
        cmd += ["-e", "%s=%s" % (key, json.dumps(value) if not isinstance(value, str) else value)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if tags:
        cmd += ["--tags", tags]
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    return subprocess.run(cmd, cwd=ROOT, env=ansible_env(env), capture_output=True, text=True, timeout=timeout, check=False)


def mutating(calls, prefixes=MUTATING_RDS):
    """The mutating calls among the world's call counts."""
    return {op: n for op, n in calls["by_operation"].items() if op in prefixes and n}
