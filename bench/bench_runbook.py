"""Benchmark (not a test): failover.yml and failback.yml, wall time against their critical path.

Run inside the loopback-only namespace with the world and both Kubernetes control planes up:
    scripts/in-netns.sh scripts/with-world.sh --k8s -- .venv/bin/python -m bench.bench_runbook [--rounds 2]

Figures (issue 10, "Figures"): with the latency model
  promotion 4 s (promotion_seconds), DB class change 3 s (rds_modify_seconds), rollout 2 s (the node
  simulator's pod start delay, both clusters), DNS propagation 1 s (dns_propagation_seconds),
  API latency 30 ms on every AWS call (latency_ms), the edge's resolver caching 1 s (resolver_ttl_seconds,
  as the playbook tests); everything else at the world's defaults (ElastiCache create 1 s / delete
  0.5 s; replica creation, snapshots and deletes instant, new replicas' lag 0)
each round seeds a fresh world (AWS + both clusters), takes eu-west-1 down and runs
    ansible-playbook playbooks/failover.yml -i inventories/local -e dr_incident_id=...
then brings eu-west-1 up and runs
    ansible-playbook playbooks/failback.yml -i inventories/local -e dr_incident_id=... -e dr_failback_delete_old_primaries=true
and, for each playbook: process wall time, the report's steps (LOMASHWOOD_REPORT_DIR), the critical path
the model implies (derivation in CRITICAL_PATH below and in the results file), wall / critical path
(issue's first bar <= 1.3), the Ansible overhead per step, AWS calls by service/operation
(World.calls()) and the clients' writes to both apiservers (audit log), with the load average.

Per-task timings come from a small callback written to a temp dir at run time (ansible.posix's
profile_tasks is not installed here): each task's start, end, action and the module's own
elapsed_seconds when it returns one. AWS calls are sampled every 0.2 s (GET /_world/calls, not an AWS
call, not counted) and attributed to the innermost report step whose window holds them.
Writes bench/results/runbook.md.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter

from tests.integration.k8s import K8s
from tests.integration.runner import BIN, ROOT, ansible_env
from tests.k8s import cluster
from tests.world.control import World

MODEL = dict(promotion_seconds=4.0, rds_modify_seconds=3.0, dns_propagation_seconds=1.0, latency_ms=30,
             resolver_ttl_seconds=1)
POD_START_DELAY = 2.0
LATENCY = MODEL["latency_ms"] / 1000.0
RESULTS = os.path.join(ROOT, "bench", "results", "runbook.md")
# Inventory values the model's waits depend on (inventories/local, roles' defaults).
SOAK = 1.0          # dr_shift_soak_seconds (inventories/local/group_vars/all/traffic_shift.yml)
SHIFT_STEPS = 3     # dr_shift_weights 10 -> 50 -> 100
REDIS_DELETE = 0.5  # elasticache_delete_seconds, the world's default
REDIS_CREATE = 1.0  # elasticache_create_seconds, the world's default (overlapped in a failover)
# The traffic shift's modelled wait: each weighted step's propagation and soak, then failover routing's propagation.
SHIFT_WAIT = SHIFT_STEPS * (MODEL["dns_propagation_seconds"] + SOAK) + MODEL["dns_propagation_seconds"]
ROLLING_ROUNDS = 3  # a rolling restart at 3 replicas, one new pod at a time
# The production inventory's poll intervals at the model's time scale: each wait is its real length
# shortened by a factor (a promotion or class change of ~4 min -> 4 s: 1/60; a rollout of ~1 min -> 2 s:
# 1/30; Route 53's ~60 s to INSYNC -> 1 s: 1/60), and so is the interval that polls it (RDS 15 s -> 0.25 s,
# Kubernetes 5 s -> 0.17 s, Route 53 5 s -> 0.08 s, the drain 5 s -> 0.08 s; the rebuild's and the
# standby's 30 s -> 0.5 s). inventories/local's own intervals (0.2-0.5 s) are for the tests, whose waits
# are not scaled; at 0.5 s a 4 s promotion is seen up to 12 % late, where production's 15 s in 4 min is 6 %.
SCALED_POLLS = dict(dr_rds_poll_interval=0.25, dr_rds_modify_poll_interval=0.25, dr_redis_poll_interval=0.25,
                    dr_k8s_poll_interval=0.17, dr_dns_poll_interval=0.08, dr_drain_poll_interval=0.08,
                    dr_rebuild_poll_interval=0.5, dr_standby_poll_interval=0.5)

# Counting round trips on the critical path from the calls a step made: an operation a batch module
# sends for every resource at once (a thread pool) is one round trip; an operation repeated as a poll
# while the step waits is two (the read before, the read that sees it done: the polls in between
# overlap the modelled wait); every other call is sequential and counts once each.
FANOUT = {"rds:PromoteReadReplica", "rds:ModifyDBInstance", "rds:CreateDBInstanceReadReplica", "rds:CreateDBSnapshot",
          "rds:DeleteDBInstance", "rds:AddTagsToResource", "s3:CopyObject", "s3:DeleteObject", "s3:PutObject",
          "s3:HeadObject", "s3:GetObjectTagging", "s3:PutObjectTagging"}
POLLS = {"rds:DescribeDBInstances", "route53:GetChange", "elasticache:DescribeReplicationGroups",
         "rds:DescribeDBSnapshots", "cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics",
         "route53:GetHealthCheckStatus"}

CRITICAL_PATH = {
    "failover": (
        "Ungraceful (eu-west-1 down), in the playbook's order: preflight's calls, one after another "
        "(STS, Route 53 status, the RPO plan's reads, the SSM lock; the one brief probe of eu-west-1 beside "
        "them); "
        "then the promotion (4 s + its round trips) OVERLAPPING the Redis create (not waited for there) and "
        "repoint_services + scale_services (Secrets, node group, 9 deployments 0 -> 3: "
        "one 2 s pod start, the 3 pods of a deployment start together) - the longer of the two counts; "
        "then the class change (3 s, all 8 at once, one wait), the Redis wait (done by then: its reads and the "
        "Secret), Stripe (nothing: the global domain), DNS (one change, its health read, 1 s propagation to INSYNC), "
        "verify (the edge already answers from eu-west-2, Route 53 having failed over on its own: its first "
        "answer, then 9 local smoke requests, ~0), and the lock's release. Kubernetes calls are local "
        "(no modelled latency) and count 0."),
    "failback": (
        "Every step after the one before (failback.yml has no overlap): preflight's calls; the rebuild "
        "(retire the 8 stale eu-west-1 instances - snapshot, delete - and create 8 replicas of the eu-west-2 "
        "primaries: instant in the model, round trips only); S3 copy-back and CRR (round trips); home Secrets "
        "and scale (eu-west-1 kept its 3 pods through the outage, but the step restarts every deployment whose pods "
        "carry no digest of their Secrets - all 9 after a seed: a rolling restart, 3 rounds of one 2 s pod start, "
        "the 9 at once); verify home (direct, at once); "
        "stop writes in eu-west-2 (the write path 3 -> 0: terminating pods go at once) and the drain (the new "
        "replicas' lag, 0 in the model); the promotion (4 s); the traffic shift: 3 weighted steps, each "
        "1 s propagation + 1 s soak (dr_shift_soak_seconds) + its gate (Route 53 status, /health), then failover "
        "routing restored (1 s propagation); verify through the edge (1 s resolver cache, already on eu-west-1 "
        "at 100 %, ~0); restore the standby (services to 0, node group, retire the old primaries, 8 new "
        "replicas: instant; Redis delete 0.5 s); the standby's Secrets; unlock."),
}


def waits(operation, step):
    """Seconds of the latency model a step waits on, on the critical path (step: the report's entry)."""
    name, detail = step["step"], step.get("detail") or {}
    if operation == "failover":
        return {"promote_databases": MODEL["promotion_seconds"], "scale_services": POD_START_DELAY,
                "scale_databases": MODEL["rds_modify_seconds"], "dns": MODEL["dns_propagation_seconds"]}.get(name, 0.0)
    if name == "scale_services":
        # eu-west-1 kept its 3 pods through the outage; a deployment the step restarts rolls one pod at a
        # time (RollingUpdate 25 %/25 % at 3 replicas: surge 1, unavailable 0), all deployments at once.
        restarted = [r for r in detail.get("results", []) if r.get("action") in ("restart", "scale-and-restart")]
        return ROLLING_ROUNDS * POD_START_DELAY if restarted else 0.0
    return {"promote_databases": MODEL["promotion_seconds"],
            "traffic_shift": SHIFT_WAIT,
            "restore_standby": REDIS_DELETE}.get(name, 0.0)


def round_trips(ops, polling_steps=None):
    """Round trips on the critical path for one step's calls (ops: {op: n}); polling_steps: {op: the steps among
    ops that each poll it} where one count stands for more than one step (bench_floor's playbooks)."""
    polling_steps = polling_steps or {}
    return sum(1 if op in FANOUT else min(n, 2 * polling_steps.get(op, 1)) if op in POLLS else n
               for op, n in ops.items() if n)


CALLBACK = '''
import json, os, time
from ansible.plugins.callback import CallbackBase

class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timeline"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._out = open(os.environ["BENCH_TIMELINE"], "a")

    def _write(self, **event):
        event["t"] = time.time()
        self._out.write(json.dumps(event) + "\\n")
        self._out.flush()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._write(ev="start", name=task.get_name(), action=task.action)

    def _end(self, result, status):
        r = result._result if isinstance(result._result, dict) else {}
        elapsed = r.get("elapsed_seconds")
        self._write(ev="end", status=status, action=result._task.action,
                    elapsed=elapsed if isinstance(elapsed, (int, float)) else None)

    def v2_runner_on_ok(self, result):
        self._end(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._end(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._end(result, "skipped")

    def v2_runner_retry(self, result):
        self._write(ev="retry")

    def v2_playbook_on_stats(self, stats):
        self._write(ev="stats")
'''

# Tasks that never leave the controller process (no module is shipped and run).
CONTROLLER_ONLY = {"set_fact", "assert", "debug", "include_tasks", "include_role", "import_role", "fail", "meta",
                   "pause", "include_vars"}


class Sampler(threading.Thread):
    """Samples the world's cumulative call counts every `every` s: [(epoch, {op: n})]."""

    def __init__(self, world, every=0.2):
        super().__init__(daemon=True)
        self.world, self.every, self.samples, self._halt = world, every, [], threading.Event()

    def run(self):
        while not self._halt.is_set():
            self.samples.append((time.time(), dict(self.world.calls()["by_operation"])))
            self._halt.wait(self.every)

    def stop(self):
        self._halt.set()
        self.join()
        self.samples.append((time.time(), dict(self.world.calls()["by_operation"])))


def attribute(samples, steps):
    """{step: Counter(op)}, each sampled interval's calls to the innermost step holding its midpoint;
    '(between steps)' for the rest (Ansible start-up, unlock, report)."""
    out = {}
    for (t0, c0), (t1, c1) in zip(samples, samples[1:]):
        diff = {op: n - c0.get(op, 0) for op, n in c1.items() if n - c0.get(op, 0)}
        if not diff:
            continue
        mid = (t0 + t1) / 2
        holding = [s for s in steps if s["started"] <= mid <= s["ended"]]
        name = max(holding, key=lambda s: s["started"])["step"] if holding else "(between steps)"
        out.setdefault(name, Counter()).update(diff)
    return out


def timeline_tasks(path):
    """[(start, end, action, elapsed)] per task (the end: its last result, else the next task's start)."""
    events = []
    with open(path, encoding="utf-8") as handle:
        events = [json.loads(line) for line in handle if line.strip()]
    tasks, current = [], None
    for ev in events:
        if ev["ev"] in ("start", "stats"):
            if current:
                tasks.append(current)
            current = dict(start=ev["t"], end=ev["t"], action=ev.get("action"), elapsed=None, name=ev.get("name")) \
                if ev["ev"] == "start" else None
        elif ev["ev"] == "end" and current:
            current["end"] = ev["t"]
            if ev.get("elapsed") is not None:
                current["elapsed"] = (current["elapsed"] or 0) + ev["elapsed"]
    if current:
        tasks.append(current)
    return tasks


def short(action):
    return (action or "").rsplit(".", 1)[-1]


def run_playbook(world, k8s, operation, incident, extra):
    report_dir = tempfile.mkdtemp(prefix="bench-rb-")
    timeline = os.path.join(report_dir, "timeline.jsonl")
    env = ansible_env({"LOMASHWOOD_REPORT_DIR": report_dir, "BENCH_TIMELINE": timeline,
                       "ANSIBLE_CALLBACK_PLUGINS": CALLBACK_DIR, "ANSIBLE_CALLBACKS_ENABLED": "bench_timeline,lomashwood.multiregion.progress"})
    cmd = [os.path.join(BIN, "ansible-playbook"), "playbooks/%s.yml" % operation, "-i", "inventories/local",
           "-e", json.dumps({"dr_incident_id": incident}), "-e", json.dumps(SCALED_POLLS)]
    for key, value in extra.items():
        cmd += ["-e", json.dumps({key: value})]
    if os.environ.get("BENCH_WRAP"):  # e.g. "py-spy record -o F --subprocesses --": a profiler around the run
        cmd = shlex.split(os.environ["BENCH_WRAP"]) + cmd
    world.reset_calls()
    k8s.reset_calls()
    load_before = os.getloadavg()
    sampler = Sampler(world)
    sampler.start()
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200, check=False)
    wall = time.time() - t0
    sampler.stop()
    load_after = os.getloadavg()
    calls = world.calls()
    k8s_writes = k8s.calls()
    files = sorted(glob.glob(os.path.join(report_dir, "%s-*.json" % operation)))
    if proc.returncode != 0 or not files:
        sys.stdout.write(proc.stdout[-6000:] + proc.stderr[-3000:])
        raise SystemExit("%s failed (rc=%s); report dir %s" % (operation, proc.returncode, report_dir))
    with open(files[-1], encoding="utf-8") as handle:
        report = json.load(handle)
    steps = [dict(s, started=float(s["started"]), ended=float(s["ended"])) for s in report["steps"]]
    by_step = attribute(sampler.samples, steps)
    tasks = timeline_tasks(timeline)
    if KEEP_DIR:
        shutil.copy(timeline, os.path.join(KEEP_DIR, "%s-%s-timeline.jsonl" % (operation, incident)))
        shutil.copy(files[-1], KEEP_DIR)
    shutil.rmtree(report_dir, ignore_errors=True)
    return dict(operation=operation, wall=wall, t0=t0, t_end=t0 + wall, report=report, steps=steps, calls=calls,
                by_step=by_step, k8s_writes=k8s_writes, tasks=tasks, load=(load_before, load_after),
                cmd=" ".join(cmd[1:3] + cmd[3:5]) + (" " + " ".join("-e %s=%s" % kv for kv in extra.items()) if extra else ""))


def _union(intervals):
    total, last = 0.0, None
    for a, b in sorted(intervals):
        if last is None or a > last:
            total += b - a
            last = b
        elif b > last:
            total += b - last
            last = b
    return total


def analyse(run):
    """Per step, on its exclusive time (its window less the steps nested in it, e.g. repoint and scale inside
    the promotion's window in a failover): wall, modelled wait, round trips, floor, tasks, modules' own time.
    The floors add up to the critical path; the rows plus start-up, gaps and tail add up to the process wall."""
    op, steps, tasks = run["operation"], run["steps"], run["tasks"]

    def innermost(t):
        holding = [s for s in steps if s["started"] - 0.05 <= t <= s["ended"]]
        return max(holding, key=lambda s: s["started"])["step"] if holding else None

    for t in tasks:
        t["step"] = innermost(t["start"])
    rows = []
    for s in steps:
        nested = [o for o in steps if o is not s and s["started"] <= o["started"] and o["ended"] <= s["ended"]]
        window = s["ended"] - s["started"]
        exclusive = window - _union([(o["started"], o["ended"]) for o in nested])
        mine = [t for t in tasks if t["step"] == s["step"]]
        ops = run["by_step"].get(s["step"], Counter())
        rtt = round_trips(ops)
        wait = waits(op, s)
        own_floor = wait + rtt * LATENCY
        # The promotion job's elapsed (through async_status) is its own only when nothing ran beside it.
        rows.append(dict(step=s["step"], window=window, wall=exclusive, wait=wait, rtt=rtt, own_floor=own_floor,
                         nested=[o["step"] for o in nested], tasks=len(mine),
                         modules=sum(1 for t in mine if short(t["action"]) not in CONTROLLER_ONLY),
                         module_elapsed=sum(t["elapsed"] for t in mine if t["elapsed"] is not None
                                            and (short(t["action"]) != "async_status" or not nested)),
                         calls=sum(ops.values())))
    floors = {r["step"]: r["own_floor"] for r in rows}
    for r in rows:
        # A step waiting under the steps nested in it (the promotion under repoint + scale) keeps on the
        # critical path only what outlasts them; its own round trips at least.
        nested_floor = sum(floors[n] for n in r["nested"])
        r["floor"] = max(r["own_floor"] - nested_floor, r["rtt"] * LATENCY) if r["nested"] else r["own_floor"]
    between = run["by_step"].get("(between steps)", Counter())
    between_rtt = round_trips(between)
    cp = sum(r["floor"] for r in rows) + between_rtt * LATENCY
    first, last = min(s["started"] for s in steps), max(s["ended"] for s in steps)
    covered = _union([(s["started"], s["ended"]) for s in steps])
    # Where the wall goes, by kind of task (each task: its start to its last result).
    kinds = Counter()
    counts = Counter()
    for t in tasks:
        d = t["end"] - t["start"]
        a = short(t["action"])
        if a == "pause":
            kinds["pause (the shift's soak)"] += d
            counts["pause (the shift's soak)"] += 1
        elif a == "async_status":
            kinds["async_status (waiting for the promotion job)"] += d
            counts["async_status (waiting for the promotion job)"] += 1
        elif a in CONTROLLER_ONLY:
            kinds["controller-only tasks (set_fact, assert, debug, include_*)"] += d
            counts["controller-only tasks (set_fact, assert, debug, include_*)"] += 1
        elif t["elapsed"] is not None:
            kinds["our modules: their own elapsed_seconds"] += t["elapsed"]
            kinds["our modules: launch and return (duration - elapsed)"] += d - t["elapsed"]
            counts["our modules: their own elapsed_seconds"] += 1
            counts["our modules: launch and return (duration - elapsed)"] += 1
        elif d < 0.06:
            kinds["skipped module tasks"] += d
            counts["skipped module tasks"] += 1
        else:
            kinds["other modules (amazon.aws, uri, command, file/copy/template, k8s_secrets, ...)"] += d
            counts["other modules (amazon.aws, uri, command, file/copy/template, k8s_secrets, ...)"] += 1
    first_task = min(t["start"] for t in tasks)
    last_end = max(t["end"] for t in tasks)
    kinds["process start-up before the first task"] = first_task - run["t0"]
    kinds["after the last task (exit)"] = run["t_end"] - last_end
    controller = [t["end"] - t["start"] for t in tasks if short(t["action"]) in CONTROLLER_ONLY - {"pause"}]
    launch = [t["end"] - t["start"] - t["elapsed"] for t in tasks if t["elapsed"] is not None
              and short(t["action"]) != "async_status"]
    return dict(rows=rows, cp=cp, between_rtt=between_rtt, report_wall=float(run["report"]["wall_seconds"]),
                startup=first - run["t0"], tail=run["t_end"] - last, gaps=(last - first) - covered,
                kinds=kinds, counts=counts, n_tasks=len(tasks),
                per_task=statistics.median(controller) if controller else None, n_controller=len(controller),
                launch=statistics.median(launch) if launch else None, n_launch=len(launch))


def fmt(x, nd=2):
    return "-" if x is None else ("%.*f" % (nd, x))


def render(runs, rounds):
    load_now = os.getloadavg()
    lines = ["# failover.yml / failback.yml against their critical path (issue 10, Figures)", "",
             "`scripts/in-netns.sh scripts/with-world.sh --k8s -- .venv/bin/python -m bench.bench_runbook%s` "
             "(2 cores, shared; load average at the end %.2f / %.2f / %.2f)"
             % ("" if rounds == 2 else " --rounds %d" % rounds, *load_now), "",
             "Latency model: promotion %.0f s, DB class change %.0f s, rollout %.0f s (node simulator pod start "
             "delay, both clusters), DNS propagation %.0f s, %d ms per AWS call, edge resolver cache %d s; world "
             "defaults otherwise (ElastiCache create %.1f s / delete %.1f s; replica creation, snapshots, deletes "
             "instant; new replicas' lag 0). Each round: fresh seed (AWS + both clusters), eu-west-1 down, "
             "failover.yml; eu-west-1 up, failback.yml with dr_failback_delete_old_primaries=true. "
             "Inventory `inventories/local`, with the production poll intervals at the model's time scale "
             "(SCALED_POLLS in bench/bench_runbook.py: %s)." % (
                 MODEL["promotion_seconds"], MODEL["rds_modify_seconds"], POD_START_DELAY,
                 MODEL["dns_propagation_seconds"], MODEL["latency_ms"], MODEL["resolver_ttl_seconds"],
                 REDIS_CREATE, REDIS_DELETE, ", ".join("%s %s s" % kv for kv in SCALED_POLLS.items())), "",
             "## Summary", "",
             "| round | playbook | process wall (s) | report wall (s) | critical path (s) | wall / CP | bar 1.3 "
             "| tasks | median controller-only task (s) | median module launch (s) | load avg 1 min before -> after "
             "| AWS calls | k8s writes |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        a = run["analysis"]
        lines.append("| %d | %s | %.1f | %.1f | %.2f | %.2f | %s | %d | %s | %s | %.2f -> %.2f | %d | %d |" % (
            run["round"], run["operation"], run["wall"], a["report_wall"], a["cp"], run["wall"] / a["cp"],
            "met" if run["wall"] / a["cp"] <= 1.3 else "missed", a["n_tasks"], fmt(a["per_task"], 3),
            fmt(a["launch"], 2), run["load"][0][0], run["load"][1][0], run["calls"]["total"],
            sum(run["k8s_writes"].values())))
    lines += ["", "## Reading", ""]
    for op in ("failover", "failback"):
        mine = [r for r in runs if r["operation"] == op]
        if not mine:
            continue
        wall = statistics.mean(r["wall"] for r in mine)
        cp = mine[0]["analysis"]["cp"]
        ours = statistics.mean(r["analysis"]["kinds"]["our modules: launch and return (duration - elapsed)"] for r in mine)
        other_key = "other modules (amazon.aws, uri, command, file/copy/template, k8s_secrets, ...)"
        others = statistics.mean(r["analysis"]["kinds"][other_key] for r in mine)
        n_mod = mine[0]["analysis"]["counts"]["our modules: launch and return (duration - elapsed)"] + \
            mine[0]["analysis"]["counts"][other_key]
        ctrl = statistics.mean(r["analysis"]["kinds"]["controller-only tasks (set_fact, assert, debug, include_*)"] for r in mine)
        lines.append(
            "- %s: wall %.1f s against a critical path of %.2f s (%.2f x). %d module runs: our modules' launch and "
            "return %.1f s, the other modules (whose own work here is a few round trips) %.1f s in all; %d "
            "controller-only tasks %.1f s. Without the module launches the wall would be about %.1f s (%.2f x)." % (
                op, wall, cp, wall / cp, n_mod, ours, others, mine[0]["analysis"]["counts"][
                    "controller-only tasks (set_fact, assert, debug, include_*)"], ctrl,
                wall - ours - others, (wall - ours - others) / cp))
    lines += ["", "Report wall: the report's wall_seconds (preflight's start to the report's assembly). Median module "
              "launch: a module task's duration minus the module's own elapsed_seconds (Ansible building, shipping and "
              "starting the module, its imports and client set-up, the result's return), over our modules that report it."]
    for op in ("failover", "failback"):
        lines += ["", "## %s" % op, "", "**Critical path.** " + CRITICAL_PATH[op], "",
                  "A step's floor = its modelled wait + its round trips x %d ms, on its exclusive time (its window "
                  "less the steps nested in it; a step that waits under nested ones - the promotion under repoint and "
                  "scale - keeps only what outlasts them). Round trips are counted from the AWS calls sampled in the "
                  "step's exclusive time: an operation a batch fans out (%s) is one; a poll (%s) is two (the read "
                  "before, the read that sees it done); anything else one per call. Assumptions: Kubernetes calls "
                  "(local API servers) and the controller's own work cost 0; the modelled waits are the only waits. "
                  "Overhead = exclusive wall - floor." % (
                      MODEL["latency_ms"], ", ".join(sorted(FANOUT)), ", ".join(sorted(POLLS)))]
        for run in runs:
            if run["operation"] != op:
                continue
            a = run["analysis"]
            lines += ["", "### round %d: wall %.1f s, critical path %.2f s, ratio %.2f" % (
                run["round"], run["wall"], a["cp"], run["wall"] / a["cp"]), "",
                "| step | window (s) | exclusive wall (s) | modelled wait (s) | round trips | floor (s) | overhead (s) "
                "| tasks (modules) | modules' own elapsed (s) | AWS calls |",
                "|---|---|---|---|---|---|---|---|---|---|"]
            for r in a["rows"]:
                lines.append("| %s%s | %.2f | %.2f | %.1f | %d | %.2f | %.2f | %d (%d) | %.2f | %d |" % (
                    r["step"], " (holds %s)" % ", ".join(r["nested"]) if r["nested"] else "", r["window"], r["wall"],
                    r["wait"], r["rtt"], r["floor"], r["wall"] - r["floor"], r["tasks"], r["modules"],
                    r["module_elapsed"], r["calls"]))
            between = run["by_step"].get("(between steps)", Counter())
            lines += [
                "| (start-up: process start to preflight) | | %.2f | | | | %.2f | | | |" % (a["startup"], a["startup"]),
                "| (gaps between steps) | | %.2f | | | | %.2f | | | |" % (a["gaps"], a["gaps"]),
                "| (after the last step: unlock, report, end declaration, exit) | | %.2f | | %d | %.2f | %.2f | | | %d |" % (
                    a["tail"], a["between_rtt"], a["between_rtt"] * LATENCY, a["tail"] - a["between_rtt"] * LATENCY,
                    sum(between.values())),
                "| **total** | | **%.2f** | | | **%.2f** | **%.2f** | | | **%d** |" % (
                    run["wall"], a["cp"], run["wall"] - a["cp"], run["calls"]["total"]),
                "", "Where the wall goes, by kind of task:", "", "| kind | tasks | seconds |", "|---|---|---|"]
            for kind, secs in sorted(a["kinds"].items(), key=lambda kv: -kv[1]):
                lines.append("| %s | %s | %.2f |" % (kind, a["counts"].get(kind, "") or "", secs))
            lines += ["", "AWS calls by operation: " + ", ".join(
                "%s %d" % kv for kv in sorted(run["calls"]["by_operation"].items())),
                "", "Kubernetes writes (audit log): " + (", ".join("%s %d" % kv for kv in sorted(run["k8s_writes"].items())) or "none")]
    return "\n".join(lines) + "\n"


def fresh_round(world, k8s_run_dir, kubeconfig):
    world.reset()
    info = world.seed(lag_seconds=5)
    k8s = K8s(k8s_run_dir, kubeconfig, info)
    k8s.reset()  # both clusters as seeded, no delay
    for region in ("eu-west-1", "eu-west-2"):
        cluster.set_knobs(k8s_run_dir, region, pod_start_delay=POD_START_DELAY)
    world.configure(**MODEL)
    world.region_down("eu-west-1")
    return k8s


CALLBACK_DIR = tempfile.mkdtemp(prefix="bench-cb-")
KEEP_DIR = None  # --keep DIR: each run's task timeline and report are copied there


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", help="results file (default bench/results/runbook.md; - prints only)")
    parser.add_argument("--keep", metavar="DIR", help="copy each run's task timeline (JSON lines) and report here")
    parser.add_argument("--only", choices=("failover",), help="run only the failover (a quicker look; no failback)")
    args = parser.parse_args()
    global KEEP_DIR
    if args.keep:
        KEEP_DIR = args.keep
        os.makedirs(KEEP_DIR, exist_ok=True)
    with open(os.path.join(CALLBACK_DIR, "bench_timeline.py"), "w", encoding="utf-8") as handle:
        handle.write(CALLBACK)
    kubeconfig = os.environ["KUBECONFIG"]
    run_dir = os.path.dirname(kubeconfig)
    world = World(os.environ["AWS_ENDPOINT_URL"])
    runs = []
    for n in range(1, args.rounds + 1):
        k8s = fresh_round(world, run_dir, kubeconfig)
        incident = "BENCH-" + uuid.uuid4().hex[:8]
        for op, extra in (("failover", {}), ("failback", {"dr_failback_delete_old_primaries": True}))[:1 if args.only else 2]:
            if op == "failback":
                world.region_up("eu-west-1")
            run = run_playbook(world, k8s, op, incident, extra)
            run["round"] = n
            run["analysis"] = analyse(run)
            runs.append(run)
            a = run["analysis"]
            print("[round %d] %s: wall %.1f s, report %.1f s, critical path %.2f s, ratio %.2f, load %.2f -> %.2f, "
                  "%d AWS calls" % (n, op, run["wall"], a["report_wall"], a["cp"], run["wall"] / a["cp"],
                                    run["load"][0][0], run["load"][1][0], run["calls"]["total"]), flush=True)
        for region in ("eu-west-1", "eu-west-2"):
            cluster.set_knobs(run_dir, region, pod_start_delay=0)
    shutil.rmtree(CALLBACK_DIR, ignore_errors=True)
    text = render(runs, args.rounds)
    print(text)
    if args.out == "-":
        return
    with open(args.out or RESULTS, "w", encoding="utf-8") as handle:
        handle.write(text)


if __name__ == "__main__":
    main()
