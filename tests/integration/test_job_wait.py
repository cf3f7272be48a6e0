"""job_wait: waits for an async job once per poll, prints the progress its module writes (never
"FAILED - RETRYING"), returns the job's result, and fails naming the job on timeout or a bad value."""

from __future__ import annotations

import json
import re

import pytest

from .runner import run_playbook


def wait(tmp_path, **extra):
    extra = dict(dict(work_dir=str(tmp_path), job_seconds=1.6, wait_timeout=30), **extra)
    return run_playbook("tests/integration/playbooks/job_wait.yml", inventory="localhost,", extra_vars=extra, timeout=120)


def test_the_wait_prints_what_is_done_and_returns_the_jobs_result(tmp_path):
    proc = wait(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert (result["finished"], result["rc"], result["stdout"]) == (True, 0, "done")
    assert result["wait_polls"] >= 2 and result["wait_seconds"] >= 0.5
    lines = [line for line in proc.stdout.splitlines() if line.startswith("steps: ")]
    assert lines[0] == "steps: 0/2 done, pending: first (working), second (working); 0s so far", proc.stdout
    assert re.match(r"steps: 1/2 done \(first\), pending: second \(working\); [01]s so far$", lines[-1]), lines
    assert "FAILED - RETRYING" not in proc.stdout


def test_a_timeout_names_the_job_and_its_last_progress(tmp_path):
    proc = wait(tmp_path, job_seconds=8, wait_timeout=1)
    assert proc.returncode != 0
    assert re.search(r"The job \S+ did not finish within 1 s \(it goes on running; wait for it again to take it up\): "
                     r"steps: [01]/2 done", proc.stdout), proc.stdout[-3000:]


def test_on_the_controller_the_wait_ends_with_the_job_not_a_poll_interval_later(tmp_path):
    """poll_interval 30 s, a job of 1 s: the job's status file changing brings the next poll forward."""
    proc = wait(tmp_path, job_seconds=1.0, poll_interval=30, wait_timeout=60)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["finished"] and result["wait_seconds"] < 4 and result["wait_polls"] <= 3, result


@pytest.mark.parametrize("extra, named", [
    (dict(jid="j000000000.1"), "could not find job"),
    (dict(poll_interval=0), "poll_interval must be more than 0, got 0"),
    (dict(wait_timeout=-1), "timeout must be at least 0, got -1"),
])
def test_bad_values_are_named(tmp_path, extra, named):
    proc = wait(tmp_path, job_seconds=0.2, **extra)
    assert proc.returncode != 0 and named in proc.stdout, proc.stdout[-3000:]
