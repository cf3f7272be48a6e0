"""Benchmark (not a test): the floor of wall / critical path under ansible-playbook, failover and failback.

Run inside the loopback-only namespace with the world and both Kubernetes control planes up:
    scripts/in-netns.sh scripts/with-world.sh --k8s -- .venv/bin/python -m bench.bench_floor [--rounds 3] [--only failover]

Issue 10 asks for failover.yml's and failback.yml's wall <= 1.3 x their critical paths on the latency model,
issue 13 for the failover's <= 1.10. This measures what no design run by ansible-playbook can go below, on the
same world, model and machine:
  - start-up: ansible-playbook running a one-task playbook (debug), process wall;
  - a floor playbook per runbook (bench/floor/<op>.yml): the waits the model puts on that runbook's critical
    path, one module task each, and nothing else. Its critical path is those waits plus its own round trips
    x 30 ms (counted as bench_runbook counts them), so its ratio is the least any such playbook could show here;
  - the runbook itself (bench_runbook's run and analysis), interleaved with its floor, for comparison.
Prints the tables; --out FILE also writes them (bench/results/floor.md is the committed one).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid

from bench import bench_runbook as runbook
from tests.integration.runner import BIN, ROOT, ansible_env
from tests.k8s import cluster
from tests.world.control import World

# Each playbook's floor and the waits the model puts on its critical path (bench_runbook's CRITICAL_PATH).
FLOORS = {
    "failover": ("bench/floor/failover.yml",
                 runbook.MODEL["promotion_seconds"] + runbook.MODEL["rds_modify_seconds"] + runbook.MODEL["dns_propagation_seconds"]),
    "failback": ("bench/floor/failback.yml",
                 runbook.ROLLING_ROUNDS * runbook.POD_START_DELAY + runbook.MODEL["promotion_seconds"]
                 + runbook.SHIFT_WAIT + runbook.REDIS_DELETE),
}
# bench_runbook counts a poll's round trips once per report step (the read before, the read that sees it
# done); the runbook steps a floor holds that poll the same operation: the failover's promotion and class
# change, the failback's rebuild (retire and replicas) and promotion, each DescribeDBInstances.
POLLING_STEPS = {"failover": {"rds:DescribeDBInstances": 2}, "failback": {"rds:DescribeDBInstances": 2}}


def run_trivial():
    """ansible-playbook's own start-up and exit: a one-task playbook, on the same inventory and config."""
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        handle.write("- hosts: dr_controller\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug: {msg: hi}\n")
    try:
        t0 = time.time()
        subprocess.run([os.path.join(BIN, "ansible-playbook"), handle.name, "-i", "inventories/local"], cwd=ROOT,
                       env=ansible_env({}), capture_output=True, text=True, timeout=120, check=True)
        return time.time() - t0
    finally:
        os.unlink(handle.name)


def run_floor(world, operation):
    handle, timeline = tempfile.mkstemp(prefix="bench-floor-", suffix=".jsonl")
    os.close(handle)
    # The same callbacks as bench_runbook's runs: the progress callback builds the module payloads before
    # their tasks and starts the warm interpreter, for the floor as for the runbook.
    env = ansible_env({"BENCH_TIMELINE": timeline, "ANSIBLE_CALLBACK_PLUGINS": runbook.CALLBACK_DIR,
                       "ANSIBLE_CALLBACKS_ENABLED": "bench_timeline,lomashwood.multiregion.progress"})
    playbook, waits = FLOORS[operation]
    cmd = [os.path.join(BIN, "ansible-playbook"), playbook, "-i", "inventories/local",
           "-e", json.dumps(runbook.SCALED_POLLS)]
    world.reset_calls()
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    wall = time.time() - t0
    if proc.returncode != 0:
        raise SystemExit("the floor playbook failed (rc=%s):\n%s%s" % (proc.returncode, proc.stdout[-4000:], proc.stderr[-2000:]))
    ops = world.calls()["by_operation"]
    tasks = runbook.timeline_tasks(timeline)
    os.unlink(timeline)
    rtt = runbook.round_trips(ops, POLLING_STEPS[operation])
    cp = waits + rtt * runbook.LATENCY
    # Every task is a module's; one started in the background (async) returns no elapsed_seconds: all launch.
    return dict(wall=wall, cp=cp, rtt=rtt, startup=tasks[0]["start"] - t0, tail=t0 + wall - tasks[-1]["end"],
                launch=sum(t["end"] - t["start"] - (t["elapsed"] or 0) for t in tasks))


def fresh_start(operation, world, run_dir, kubeconfig):
    """A fresh world in the state the playbook starts from: seeded with eu-west-1 down (a failover), or after
    failover.yml with eu-west-1 up again (a failback)."""
    k8s = runbook.fresh_round(world, run_dir, kubeconfig)
    if operation == "failback":
        runbook.run_playbook(world, k8s, "failover", "BENCH-" + uuid.uuid4().hex[:8], {})
        world.region_up("eu-west-1")
    return k8s


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=sorted(FLOORS), help="one playbook (default: both)")
    parser.add_argument("--out", help="also write the tables to this file")
    args = parser.parse_args()
    with open(os.path.join(runbook.CALLBACK_DIR, "bench_timeline.py"), "w", encoding="utf-8") as handle:
        handle.write(runbook.CALLBACK)
    kubeconfig = os.environ["KUBECONFIG"]
    run_dir = os.path.dirname(kubeconfig)
    world = World(os.environ["AWS_ENDPOINT_URL"])
    operations = [args.only] if args.only else ["failover", "failback"]
    trivial, floors, ours = [], {op: [] for op in operations}, {op: [] for op in operations}
    load_before = os.getloadavg()
    for n in range(1, args.rounds + 1):
        trivial.append(run_trivial())
        for op in operations:
            # The floor and the playbook, each on a fresh world in the state the playbook starts from.
            fresh_start(op, world, run_dir, kubeconfig)
            floors[op].append(run_floor(world, op))
            k8s = fresh_start(op, world, run_dir, kubeconfig)
            extra = {"dr_failback_delete_old_primaries": True} if op == "failback" else {}
            run = runbook.run_playbook(world, k8s, op, "BENCH-" + uuid.uuid4().hex[:8], extra)
            run["analysis"] = runbook.analyse(run)
            ours[op].append(run)
            f, a = floors[op][-1], run["analysis"]
            print("[round %d] one-task playbook %.2f s; %s floor %.2f s / %.2f s = %.2f; %s.yml %.2f s / %.2f s = %.2f"
                  % (n, trivial[-1], op, f["wall"], f["cp"], f["wall"] / f["cp"], op, run["wall"], a["cp"],
                     run["wall"] / a["cp"]), flush=True)
    for region in ("eu-west-1", "eu-west-2"):
        cluster.set_knobs(run_dir, region, pod_start_delay=0)
    shutil.rmtree(runbook.CALLBACK_DIR, ignore_errors=True)
    text = render(args, trivial, floors, ours, load_before, os.getloadavg())
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)


# What each floor playbook leaves out, for the reading under its table.
LEFT_OUT = {
    "failover": ("three module tasks: the promotions in the background, each class change as its promotion ends "
                 "(its launch under the promotions), then DNS", "preflight, the lock, the declaration, the scale-up, "
                 "the Secrets, Redis, verify and the report"),
    "failback": ("six module tasks, one after another: the stale home instances retired, the home replicas created, "
                 "the home services' rolling restart, the promotion, the whole traffic shift, the standby's Redis "
                 "deleted", "preflight, the lock, the declaration, the S3 copy-back, both repoints, verify (twice), "
                 "stop writes and the drain, the standby's services, node group and replicas, and the report"),
}


def render(args, trivial, floors, ours, load_before, load_after):
    med = statistics.median
    lines = [
        "# The floor of wall / critical path under ansible-playbook (issues 10 and 13)", "",
        "`scripts/in-netns.sh scripts/with-world.sh --k8s -- .venv/bin/python -m bench.bench_floor --rounds %d%s` "
        "(2 cores; load average %.2f before, %.2f after). Latency model as bench_runbook: promotion %.0f s, class "
        "change %.0f s, pod start %.0f s, DNS propagation %.0f s, %d ms an AWS call; the production polls at the "
        "model's scale (%s). A one-task playbook (debug) takes %.2f s (median).%s"
        % (len(trivial), " --only " + args.only if args.only else "", load_before[0], load_after[0],
           runbook.MODEL["promotion_seconds"], runbook.MODEL["rds_modify_seconds"], runbook.POD_START_DELAY,
           runbook.MODEL["dns_propagation_seconds"], runbook.MODEL["latency_ms"],
           ", ".join("%s %s s" % kv for kv in runbook.SCALED_POLLS.items()), med(trivial),
           " Each round: a fresh world; the floor and the playbook each from the state the playbook starts from "
           "(a failback's: after failover.yml, eu-west-1 up).")]
    for op in floors:
        fl, rs = floors[op], ours[op]
        cp = med([r["analysis"]["cp"] for r in rs])
        floor_over = med([f["wall"] - f["cp"] for f in fl])
        lines += [
            "", "## %s" % op, "",
            "| round | floor playbook wall (s) | its critical path (s) | floor ratio | its start-up / module launches / "
            "tail (s) | %s.yml wall (s) | its critical path (s) | ratio |" % op,
            "|---|---|---|---|---|---|---|---|"]
        for n, (f, r) in enumerate(zip(fl, rs), 1):
            a = r["analysis"]
            lines.append("| %d | %.2f | %.2f | %.2f | %.2f / %.2f / %.2f | %.2f | %.2f | %.2f |" % (
                n, f["wall"], f["cp"], f["wall"] / f["cp"], f["startup"], f["launch"], f["tail"],
                r["wall"], a["cp"], r["wall"] / a["cp"]))
        lines += [
            "| median | %.2f | %.2f | **%.2f** | | %.2f | %.2f | **%.2f** |" % (
                med([f["wall"] for f in fl]), med([f["cp"] for f in fl]), med([f["wall"] / f["cp"] for f in fl]),
                med([r["wall"] for r in rs]), cp, med([r["wall"] / r["analysis"]["cp"] for r in rs])), "",
            "The floor playbook (bench/floor/%s.yml) is %s, and nothing else. Its overhead (wall - critical path, "
            "median %.2f s) is ansible-playbook's start-up (%.2f s to the first task) and exit, the module launches "
            "on the path and each wait's last poll. A %s.yml ratio of 1.3 against its critical path of %.2f s leaves "
            "%.2f s of overhead, of which the floor's takes %.2f s, leaving %.2f s for %s%s."
            % (op, LEFT_OUT[op][0], floor_over, med([f["startup"] for f in fl]), op, cp, 0.30 * cp, floor_over,
               0.30 * cp - floor_over, LEFT_OUT[op][1],
               "; 1.10 leaves %.2f s in all" % (0.10 * cp) if op == "failover" else "")]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
