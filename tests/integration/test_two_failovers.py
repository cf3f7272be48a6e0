"""Two at once (issue 11 item 7), as operators would do it: two ansible-playbook processes.

The lock module's own cases (resume, refuse, stale broken only with break_stale, two breakers of
one stale lock) are in test_failover_lock.py; here the playbook: two failovers started together,
exactly one proceeds and the other is refused naming the holder; a stale lock left by a crashed run
stops a failover, named with its owner, and is broken only with dr_lock_break_stale.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone

from .runner import BIN, ROOT, ansible_env, mutating
from .test_failover_playbook import _run
from .test_rds_promote_batch import all_promoted, no_promotion
from .test_failover_playbook import platform  # noqa: F401  # pylint: disable=unused-import  # the fixture

LOCK_NAME = "/lomashwood/multiregion/failover-lock"


def _stamp(delta_seconds):
    return (datetime.now(timezone.utc) + timedelta(seconds=delta_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _lock(world):
    ssm = world.client("ssm", "eu-west-2")
    try:
        return json.loads(ssm.get_parameter(Name=LOCK_NAME)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None


def test_two_failovers_started_together_one_proceeds_the_other_is_refused_naming_it(platform, tmp_path):  # noqa: F811
    world = platform
    # Both runs' lock writes land in the same 1.5 s: the race is on the write, not on who started first.
    world.configure(operation_latency_ms={"ssm:PutParameter": 1500})
    procs = {}
    for incident in ("INC-TWO-A", "INC-TWO-B"):
        cmd = [os.path.join(BIN, "ansible-playbook"),
               "playbooks/failover.yml", "-i", "inventories/local", "-e", "dr_incident_id=" + incident,
               "-e", "dr_owner=operator-" + incident[-1].lower()]
        env = ansible_env({"LOMASHWOOD_REPORT_DIR": str(tmp_path / incident)})
        procs[incident] = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           text=True)
    outputs = {incident: proc.communicate(timeout=900)[0] for incident, proc in procs.items()}
    world.configure(operation_latency_ms={"ssm:PutParameter": None})
    done = [incident for incident, proc in procs.items() if proc.returncode == 0]
    assert len(done) == 1, {i: (p.returncode, outputs[i][-1500:]) for i, p in procs.items()}
    winner = done[0]
    loser = next(incident for incident in procs if incident != winner)
    out = outputs[loser]
    # Refused on reading the lock, or on losing the atomic write to it: either way the holder is named.
    assert "held by 'failover:%s' (owner operator-%s" % (winner, winner[-1].lower()) in out, out[-3000:]
    assert "refusing to start a second run" in out
    # The loser stopped in preflight: it promoted, scaled, wrote and moved nothing, and did not
    # release the winner's lock; the winner did the whole job once.
    assert "Promote every standby read replica" not in out.split("held by", 1)[1]
    calls = world.calls()
    errors = calls.get("errors", {})
    promotions = calls["by_operation"]["rds:PromoteReadReplica"] - sum(
        n for op, n in errors.items() if op.startswith("rds:PromoteReadReplica"))
    assert promotions == 8, calls["by_operation"]
    assert calls["by_operation"].get("route53:ChangeResourceRecordSets", 0) >= 1
    assert all_promoted(world)
    assert _lock(world) is None  # released by its holder at the end
    assert not os.listdir(tmp_path / loser) or all("failover" in f for f in os.listdir(tmp_path / loser))


def test_a_stale_lock_is_named_with_its_owner_and_broken_only_on_purpose(world, tmp_path):
    world.region_down("eu-west-1")
    stale = {"holder": "failover:INC-CRASHED", "owner": "bob", "reason": "the run that crashed",
             "started": _stamp(-6 * 3600), "expires_at": _stamp(-2 * 3600), "ttl_seconds": 14400}
    ssm = world.client("ssm", "eu-west-2")
    ssm.put_parameter(Name=LOCK_NAME, Value=json.dumps(stale), Type="String")
    world.reset_calls()
    proc = _run(world, tmp_path, extra_vars={"dr_incident_id": "INC-AFTER-CRASH"})
    assert proc.returncode != 0
    assert "held by 'failover:INC-CRASHED' (owner bob" in proc.stdout, proc.stdout[-3000:]
    assert "stale: expired at " + stale["expires_at"] in proc.stdout and "break_stale" in proc.stdout
    assert mutating(world.calls()) == {} and _lock(world) == stale and no_promotion(world)
    # On purpose, in check mode: the plan says it would break it (naming the old holder), nothing changes.
    proc = _run(world, tmp_path, check=True, diff=True, extra_vars={"dr_incident_id": "INC-AFTER-CRASH", "dr_lock_break_stale": True},
                tags="never")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "-    holder: failover:INC-CRASHED" in proc.stdout and "+    holder: failover:INC-AFTER-CRASH" in proc.stdout
    assert mutating(world.calls()) == {} and _lock(world) == stale
