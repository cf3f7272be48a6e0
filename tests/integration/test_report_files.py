"""report_files: writes the report's files whole (on the controller itself, elsewhere through copy), leaves a file
with the same content alone, writes nothing in check mode, and names a bad value before writing anything."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest

from .runner import run_playbook

PLAYBOOK = "tests/integration/playbooks/report_files.yml"
FILES = {"failover-1.json": '{"outcome": "ok"}\n', "failover-1.md": "# Failover\n\nok\n"}


def _inventory(tmp_path, host, **host_vars):
    path = tmp_path / "hosts.yml"
    path.write_text(json.dumps({"all": {"hosts": {host: dict(host_vars, ansible_python_interpreter=sys.executable)}}}))
    return str(path)


def write(tmp_path, inventory=None, check=False, env=None, **extra):
    inventory = inventory or _inventory(tmp_path, "localhost", ansible_connection="local")
    result_file = tmp_path / "result.json"
    extra = dict(dict(out_dir=str(tmp_path / "reports" / "new"), files=FILES, result_file=str(result_file)), **extra)
    proc = run_playbook(PLAYBOOK, inventory=inventory, extra_vars=extra, check=check, env=env, timeout=120)
    return proc, (json.loads(result_file.read_text()) if result_file.exists() else None)


def _written(folder):
    return {name: (folder / name).read_text() for name in sorted(os.listdir(folder)) if not name.startswith(".")}


def test_writes_every_file_and_a_second_run_changes_nothing(tmp_path):
    proc, result = write(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    folder = tmp_path / "reports" / "new"
    assert result["changed"] and result["paths"] == [str(folder / name) for name in FILES]
    assert result["written_by"] == "controller"
    assert _written(folder) == FILES
    assert all(stat.S_IMODE((folder / name).stat().st_mode) == 0o644 for name in FILES)
    again, result = write(tmp_path)
    assert again.returncode == 0 and not result["changed"], again.stdout[-3000:]


def test_check_mode_writes_nothing(tmp_path):
    proc, result = write(tmp_path, check=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert not result["changed"] and len(result["paths"]) == 2
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("extra, named", [
    (dict(files={"../escape.json": "x"}), "files: ../escape.json: a file name, not a path"),
    (dict(mode="rw-r--r--"), "mode: an octal file mode such as 0644, got 'rw-r--r--'"),
    (dict(files={}), "files: a mapping of file name to content is required"),
])
def test_a_bad_value_is_named_and_nothing_is_written(tmp_path, extra, named):
    proc, _result = write(tmp_path, **extra)
    assert proc.returncode != 0 and named in proc.stdout, proc.stdout[-3000:]
    assert not (tmp_path / "reports").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="the chroot connection (a host that is not 'local') needs root")
def test_a_host_that_is_not_the_controller_gets_them_through_copy(tmp_path):
    """A chroot into / is another connection than local: the files go through file and copy, as a remote's would."""
    inventory = _inventory(tmp_path, "/", ansible_connection="community.general.chroot")
    proc, result = write(tmp_path, inventory=inventory, mode="0640")
    assert proc.returncode == 0, proc.stdout[-3000:]
    folder = tmp_path / "reports" / "new"
    assert result["changed"] and _written(folder) == FILES and result["written_by"] == "copy"
    assert all(stat.S_IMODE((folder / name).stat().st_mode) == 0o640 for name in FILES)
