"""Run modules and playbooks the way a user does: through the ansible CLI, JSON results back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
if os.path.join(ROOT, "collections") not in sys.path:  # bench/ imports this without tests/conftest.py
    sys.path.insert(0, os.path.join(ROOT, "collections"))
from ansible_collections.lomashwood.multiregion.plugins.plugin_utils import warm_python  # noqa: E402  pylint: disable=wrong-import-position

# Ad hoc module runs (-i localhost,) use the interpreter the inventories set for playbooks: the warm
# interpreter's launcher (docs/performance.md). LOMASHWOOD_WARM_PYTHON=0 in a run's env runs it cold.
INTERPRETER = warm_python.launcher(sys.executable) or sys.executable

# --- which calls mutate -------------------------------------------------------------------------
# The world names a call "service:Operation" (boto3's client and operation names, see
# tests/world/awsreq.py); a REST call it cannot match to an operation is named by its HTTP method
# ("s3:PUT", "unknown:GET" when unsigned). Read-only by name, everything else mutating: an
# operation this gets wrong shows up as a false "mutating" (add it below), never as a hidden write.
READ_ONLY_PREFIXES = ("Describe", "List", "Get", "Head", "Lookup", "Search", "Test", "Select", "BatchGet")
# Read-only names without such a prefix: credentials and evaluations that change nothing.
READ_ONLY_OPERATIONS = frozenset({
    "sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity",
    "sts:DecodeAuthorizationMessage",
    "iam:SimulateCustomPolicy", "iam:SimulatePrincipalPolicy",
    "dynamodb:Query", "dynamodb:Scan",
})
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def ansible_env(extra=None):
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
        ANSIBLE_PYTHON_INTERPRETER=INTERPRETER,
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
        # One JSON object per variable: a value with spaces or quotes stays one value (key=value splits it).
        cmd += ["-e", json.dumps({key: value})]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if tags:
        cmd += ["--tags", tags]
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    return subprocess.run(cmd, cwd=ROOT, env=ansible_env(env), capture_output=True, text=True, timeout=timeout, check=False)


def _has_prefix(operation, prefix):
    # At a word boundary: "GetObject", "ListObjectsV2", "Select"; not "Getaway".
    rest = operation[len(prefix):]
    return operation.startswith(prefix) and (not rest or rest[0].isupper() or rest[0].isdigit())


def is_mutating(name):
    """Whether the world's call "service:Operation" may change something."""
    operation = name.partition(":")[2] or name
    if name in READ_ONLY_OPERATIONS or operation in READ_ONLY_METHODS:
        return False
    return not any(_has_prefix(operation, prefix) for prefix in READ_ONLY_PREFIXES)


def mutating(world_calls, k8s_calls=None):
    """Every mutating call, with its count: {"ssm:PutParameter": 1, "k8s:eu-west-2:patch deployments/scale": 9}.

    world_calls: `world.calls()` (or its "by_operation" dict), None for none; k8s_calls:
    `k8s.calls()`, the clients' writes to the two kube-apiservers (all mutating). A rerun that
    changes nothing: `assert mutating(world.calls(), k8s.calls()) == {}`.
    """
    if world_calls and "by_operation" in world_calls:
        world_calls = world_calls["by_operation"]
    out = {op: n for op, n in (world_calls or {}).items() if n and is_mutating(op)}
    out.update((key, n) for key, n in (k8s_calls or {}).items() if n)
    return dict(sorted(out.items()))
