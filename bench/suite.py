"""Benchmarks (not tests), issue 13: one command, one world, one latency model, side by side.

    scripts/in-netns.sh scripts/with-world.sh --k8s -- .venv/bin/python -m bench.suite [--quick] [--full]
        [--time-factor 0.0166667] [--only failover,peer,scale,s3]

The latency model is the world's `seed` model (tests/world/README.md, "Latency models"): the seed's
real step times (promotion 240 s +/- 60 per replica, class change 600 s, pod start 60 s, Route 53
propagation 60 s, TTL 60 s, health check detection 30 s) times --time-factor (1/60: seconds for
minutes), per-call latency 30 ms and S3 as realism.S3_LATENCY_MODEL, unscaled. Sections:

1. failover (ours): playbooks/failover.yml on a fresh seed with eu-west-1 down, through
   bench_runbook (wall, each step, the critical path the model implies, Ansible's overhead per task:
   task start/end against the module's elapsed_seconds, AWS calls by operation, Kubernetes writes);
   with dr_real_step_seconds at the model's real times, so the report's projected RTO is the seed's.
2. peer: bench/peer/failover.yml (stock amazon.aws / kubernetes.core modules in loops) on the same
   fresh world and model. Its RDS waits are amazon.aws.rds_instance's own (a 60 s waiter);
   --quick uses the peer's own poll loop instead (peer_rds_wait=false, 2 s).
3. scaling: rds_promote_batch over 8 / 50 / 200 replicas and eks_scale_services over
   9 / 50 / 200 deployments (0 -> 1, throwaway ones in a scratch namespace), through
   tests.integration.runner.run_module: wall, module elapsed, polls, calls, calls per poll, the
   module process's peak RSS; the peer (its promote / scale tasks, --tags) at 8-9 and 50
   (--full: 200 too; its RDS wait is its poll loop there: the 60 s waiter would take hours).
   --quick: 8 / 50 ours, 8 peer.
4. s3: s3_crr_sync mode=sync against `aws s3 sync` at 10,000 objects (1,000 to copy), through
   bench_s3; --full adds 100,000 (100-1,000 B; 10,000 to copy). --quick: 1,000.

Writes bench/results/<date>.md, <date>-scaling.png (wall against batch size, ours and the peer's)
and <date>-gantt.png (the steps of our failover). Needs matplotlib (bench/requirements.txt;
LOMASHWOOD_BENCH=1 scripts/setup.sh installs it).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter

from bench import bench_runbook as rb
from bench import bench_s3
from bench.bench_eks_scale import CONTEXT, Plane
from bench.bench_rds_promote import REPLICAS
from bench.bench_rds_promote import fresh as fresh_replicas
from bench.gantt import gantt_rows
from tests.integration.k8s import K8s
from tests.integration.runner import BIN, ROOT, ansible_env, run_module
from tests.k8s.seed import deployment_manifest
from tests.world import realism
from tests.world.control import World

MODEL = "seed"
PEER = os.path.join(ROOT, "bench", "peer", "failover.yml")
RESULTS_DIR = os.path.join(ROOT, "bench", "results")
POLL = 0.5  # our modules' poll interval, as inventories/local (dr_rds_poll_interval, dr_k8s_poll_interval)


# ---- the model ------------------------------------------------------------------------------------

def real_step_seconds():
    """The report's dr_real_step_seconds on the model's real times (time factor 1): the slowest of the
    8 promotions, the class change, a rollout (one pod start: the 3 pods of a deployment start together),
    Route 53 propagation."""
    patch, pod = realism.latency_model(MODEL, 1.0)
    return {"promote_databases": round(max(realism.promotion_seconds(r, patch) for r in REPLICAS), 1),
            "scale_databases": patch["rds_modify_seconds"], "scale_services": pod,
            "dns": patch["dns_propagation_seconds"]}


def runbook_model(time_factor):
    """Point bench_runbook's critical path (its module globals) at the model at `time_factor`."""
    patch, pod = realism.latency_model(MODEL, time_factor)
    rb.MODEL = dict(promotion_seconds=max(realism.promotion_seconds(r, patch) for r in REPLICAS),
                    rds_modify_seconds=patch["rds_modify_seconds"],
                    dns_propagation_seconds=patch["dns_propagation_seconds"], latency_ms=patch["latency_ms"],
                    resolver_ttl_seconds=patch["resolver_ttl_seconds"])
    rb.POD_START_DELAY = pod
    rb.LATENCY = patch["latency_ms"] / 1000.0


def fresh_failover_world(world, run_dir, kubeconfig, time_factor):
    """A fresh seed (AWS + both clusters), the model on, eu-west-1 down."""
    world.reset()
    info = world.seed(lag_seconds=5)
    k8s = K8s(run_dir, kubeconfig, info)
    k8s.reset()
    world.use_model(MODEL, time_factor, run_dir)
    world.region_down("eu-west-1")
    return k8s


# ---- helpers --------------------------------------------------------------------------------------

def probe_interpreter(tmp):
    path = os.path.join(tmp, "probe-python")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(bench_s3.PROBE % dict(python=sys.executable))
    os.chmod(path, 0o755)
    return path


def probe_peak(probe_file):
    """The largest module process's peak RSS (MiB) and the count of module runs the probe saw."""
    try:
        with open(probe_file, encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
    except OSError:
        return None, 0
    return (max(r["maxrss_kib"] for r in rows) / 1024.0 if rows else None), len(rows)


def peer_playbook(world, extra, tags=None, probe=None, timeline=None, timeout=7200):
    """Run bench/peer/failover.yml; (wall, CompletedProcess, calls, peak MiB, module runs)."""
    probe_file = tempfile.mktemp(prefix="bench-probe-")
    env = {"BENCH_PROBE_FILE": probe_file}
    # The peer as a user writes it: a new interpreter per module (ours' inventory sets the warm one).
    env["ANSIBLE_PYTHON_INTERPRETER"] = probe or sys.executable
    if timeline:
        env.update(BENCH_TIMELINE=timeline, ANSIBLE_CALLBACK_PLUGINS=rb.CALLBACK_DIR,
                   ANSIBLE_CALLBACKS_ENABLED="bench_timeline")
    cmd = [os.path.join(BIN, "ansible-playbook"), PEER, "-i", "localhost,", "-c", "local"]
    for key, value in extra.items():
        cmd += ["-e", json.dumps({key: value})]
    if tags:
        cmd += ["--tags", tags]
    world.reset_calls()
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=ansible_env(env), capture_output=True, text=True, timeout=timeout,
                          check=False)
    wall = time.monotonic() - t0
    calls = world.calls()
    peak, runs = probe_peak(probe_file)
    if os.path.exists(probe_file):
        os.unlink(probe_file)
    if proc.returncode != 0:
        raise SystemExit("peer failed (rc %d):\n%s\n%s" % (proc.returncode, proc.stdout[-5000:], proc.stderr[-2000:]))
    return wall, proc, calls, peak, runs


def fmt_ops(ops):
    return ", ".join("%s %d" % kv for kv in sorted(ops.items()) if kv[1]) or "none"


def by_service(ops):
    out = Counter()
    for op, n in ops.items():
        out[op.split(":", 1)[0]] += n
    return out


# ---- 1. ours --------------------------------------------------------------------------------------

def ours_failover(world, run_dir, kubeconfig, tf, scale_after_verify=False):
    k8s = fresh_failover_world(world, run_dir, kubeconfig, tf)
    runbook_model(tf)
    incident = "BENCH-" + uuid.uuid4().hex[:8]
    extra = {"dr_real_step_seconds": real_step_seconds()}
    if scale_after_verify:  # the class changes waited for after verify: off the RTO (docs/playbooks/failover.md)
        extra["dr_rds_scale_after_verify"] = True
    run = rb.run_playbook(world, k8s, "failover", incident, extra)
    run["analysis"] = rb.analyse(run)
    # The same run's round trips and steps, on the model's real times: the critical path at production speed.
    runbook_model(1.0)
    run["cp_real"] = rb.analyse(run)["cp"]
    runbook_model(tf)
    tasks = run["tasks"]
    own = [t for t in tasks if t["elapsed"] is not None and rb.short(t["action"]) != "async_status"]
    run["task_overhead"] = [t["end"] - t["start"] - t["elapsed"] for t in own]
    run["edge_region"] = world.edge_resolve().get("region")
    return run


# ---- 2. the peer ----------------------------------------------------------------------------------

def peer_failover(world, run_dir, kubeconfig, tf, quick):
    k8s = fresh_failover_world(world, run_dir, kubeconfig, tf)
    k8s.reset_calls()
    timeline = tempfile.mktemp(prefix="bench-peer-timeline-")
    extra = {"peer_rds_wait": False} if quick else {}
    wall, _proc, calls, _peak, runs = peer_playbook(world, extra, timeline=timeline)
    tasks = rb.timeline_tasks(timeline)
    os.unlink(timeline)
    per_task = Counter()
    for t in tasks:
        per_task[t["name"]] += t["end"] - t["start"]
    rds = world.client("rds", "eu-west-2")
    promoted = [d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]
                if d["DBInstanceIdentifier"] in REPLICAS and not d.get("ReadReplicaSourceDBInstanceIdentifier")]
    return dict(wall=wall, calls=calls, k8s_writes=k8s.calls(), per_task=per_task, promoted=len(promoted),
                edge_region=world.edge_resolve().get("region"), waiter="amazon.aws.rds_instance wait: true (60 s waiter)"
                if not quick else "rds_instance wait: false + rds_instance_info until, delay 2 s")


# ---- 3. scaling -----------------------------------------------------------------------------------

def scale_databases(world, n, tf, probe, tmp, peer):
    names = fresh_replicas(world, extra_replicas=n - len(REPLICAS))
    world.use_model(MODEL, tf)
    world.reset_calls()
    probe_file = os.path.join(tmp, "probe-rds-%d.jsonl" % n)
    t0 = time.monotonic()
    res = run_module("rds_promote_batch", {"region": "eu-west-2", "db_instance_identifiers": names,
                                           "poll_interval": POLL, "wait_timeout": 900},
                     env={"ANSIBLE_PYTHON_INTERPRETER": probe, "BENCH_PROBE_FILE": probe_file}, timeout=1800)
    wall = time.monotonic() - t0
    if res.get("failed"):
        raise SystemExit("rds_promote_batch failed at %d: %s" % (n, res.get("msg")))
    ops = world.calls()["by_operation"]
    describes = ops.get("rds:DescribeDBInstances", 0)
    polls = res.get("polls") or 0
    slowest = max(realism.promotion_seconds(name, world.config()) for name in names)
    row = dict(kind="databases", n=n, wall=wall, elapsed=res["elapsed_seconds"], polls=polls,
               calls=sum(ops.values()), ops=ops, per_poll=(describes - 1) / polls if polls else None,
               peak=probe_peak(probe_file)[0], floor=slowest)
    if peer:
        fresh_replicas(world, extra_replicas=n - len(REPLICAS))
        world.use_model(MODEL, tf)
        pwall, _proc, calls, peak, runs = peer_playbook(
            world, {"peer_replicas": names, "peer_rds_wait": False}, tags="promote", probe=probe)
        row["peer"] = dict(wall=pwall, calls=calls["total"], ops=calls["by_operation"], peak=peak, runs=runs)
    return row


def scale_deployments(plane, n, tf, probe, tmp, peer):
    namespace = "bench-suite-%d-%s" % (n, uuid.uuid4().hex[:5])
    plane.core.create_namespace({"metadata": {"name": namespace}})
    names = ["bench-%03d" % i for i in range(n)]
    try:
        for name in names:
            manifest = deployment_manifest(name, 0)
            manifest["metadata"]["namespace"] = namespace
            manifest["spec"]["template"]["spec"]["containers"][0].pop("envFrom", None)
            plane.apps.create_namespaced_deployment(namespace, manifest)
        plane.wait(names, 0, namespace, timeout=300)
        _patch, pod = realism.latency_model(MODEL, tf)
        plane.knobs(pod)
        probe_file = os.path.join(tmp, "probe-k8s-%d.jsonl" % n)
        t0 = time.monotonic()
        res = run_module("eks_scale_services", dict(kubeconfig=plane.kubeconfig, context=CONTEXT, namespace=namespace,
                                                    services=names, replicas=1, wait_timeout=900, poll_interval=POLL),
                         env={"ANSIBLE_PYTHON_INTERPRETER": probe, "BENCH_PROBE_FILE": probe_file}, timeout=1800)
        wall = time.monotonic() - t0
        if res.get("failed"):
            raise SystemExit("eks_scale_services failed at %d: %s" % (n, res.get("msg")))
        api = res.get("api_calls") or {}
        lists = api.get("list_namespaced_deployment", 0)
        row = dict(kind="deployments", n=n, wall=wall, elapsed=res["elapsed_seconds"], polls=lists - 1,
                   calls=sum(v for v in api.values() if isinstance(v, int)), ops=api,
                   per_poll=1.0 if lists > 1 else None, peak=probe_peak(probe_file)[0], floor=pod)
        if peer:
            plane.scale(names, 0, namespace)
            plane.wait(names, 0, namespace, timeout=300)
            pwall, _proc, _calls, peak, runs = peer_playbook(
                plane_world(), {"peer_services": [{"name": name} for name in names], "peer_namespace": namespace,
                                "peer_replicas_per_service": 1}, tags="scale", probe=probe)
            row["peer"] = dict(wall=pwall, calls=None, ops={}, peak=peak, runs=runs)
        return row
    finally:
        plane.knobs(0)
        plane.core.delete_namespace(namespace)


def section(notes, what, func, *args):
    """Run one part of the suite; a part that fails is noted in the results and the rest goes on."""
    try:
        return func(*args)
    except (Exception, SystemExit) as exc:  # pylint: disable=broad-except
        text = "%s failed: %s" % (what, str(exc)[-1500:])
        print(text, file=sys.stderr, flush=True)
        notes.append(text)
        return None


def plane_world():
    return World(os.environ["AWS_ENDPOINT_URL"])


# ---- 4. s3 ----------------------------------------------------------------------------------------

def s3_runs(world, objects, different, sizes, tmp):
    bench = bench_s3.Bench(world, tmp)
    out = {}
    for label, concurrency in (("ours", 64), ("peer", None)):
        pair = bench.fresh_pair(objects, different, *sizes)
        run = bench.ours(pair, concurrency, "s3_crr_sync") if concurrency else bench.peer(pair, "aws s3 sync")
        run["right"] = bench.verdict(pair)
        out[label] = run
        print("  s3 %d %s: wall %.1f s, copied %d, right: %s" % (objects, label, run["wall"], run["copied"],
                                                                  run["right"]), flush=True)
    world.reset()
    return out


# ---- output ---------------------------------------------------------------------------------------

def plots(stamp, failover, scaling, directory=RESULTS_DIR):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    if scaling:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for ax, kind, what in ((axes[0], "databases", "rds_promote_batch"), (axes[1], "deployments", "eks_scale_services")):
            rows = [r for r in scaling if r["kind"] == kind]
            if not rows:
                continue
            ax.plot([r["n"] for r in rows], [r["wall"] for r in rows], "o-", label="ours: %s (one run)" % what)
            peer = [r for r in rows if "peer" in r]
            if peer:
                ax.plot([r["n"] for r in peer], [r["peer"]["wall"] for r in peer], "s--",
                        label="peer: stock module in a loop")
            ax.plot([r["n"] for r in rows], [r["floor"] for r in rows], ":", color="grey", label="modelled wait")
            ax.set_xlabel(kind)
            ax.set_ylabel("wall (s)")
            ax.set_title("%s: wall against batch size" % kind)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        path = os.path.join(directory, "%s-scaling.png" % stamp)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(path)
    if failover:
        rows = gantt_rows(failover["steps"], failover["t0"])
        fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.4))
        for i, (step, start, duration, depth) in enumerate(rows):
            ax.barh(i, duration, left=start, color="C%d" % (depth % 10), alpha=0.85)
            ax.text(start + duration + 0.1, i, "%.1f s" % duration, va="center", fontsize=8)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([("  " * depth) + step for step, _s, _d, depth in rows])
        ax.invert_yaxis()
        ax.set_xlim(0, failover["wall"] * 1.03)
        ax.axvline(failover["wall"], color="black", linestyle="--", linewidth=1)
        ax.set_xlabel("seconds since ansible-playbook started (dashed: process end, %.1f s)" % failover["wall"])
        ax.set_title("failover.yml steps (report), latency model '%s' x %.4g" % (MODEL, failover["time_factor"]))
        ax.grid(True, axis="x", alpha=0.3)
        fig.tight_layout()
        path = os.path.join(directory, "%s-gantt.png" % stamp)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(path)
    return files


def render(args, stamp, tf, failover, peer, scaling, s3, load, duration, pngs, notes):
    patch, pod = realism.latency_model(MODEL, tf)
    lines = ["# Benchmarks, %s (issue 13)" % stamp, "",
             "`scripts/in-netns.sh scripts/with-world.sh --k8s -- .venv/bin/python -m bench.suite%s` at %s; "
             "%.0f s in all. 2 cores shared with other sessions: load average (1/5/15 min) %.2f/%.2f/%.2f at the start, "
             "%.2f/%.2f/%.2f at the end." % (
                 (" " + " ".join(sys.argv[1:])) if sys.argv[1:] else "", bench_s3.revision(), duration,
                 *load[0], *load[1]), "",
             "Latency model `%s` x %.5g (tests/world/README.md): promotion %.2f s +/- %.2f per replica (slowest of the 8: "
             "%.2f s), class change %.2f s, pod start %.2f s, Route 53 PENDING -> INSYNC %.2f s, resolver TTL %.2f s, "
             "health check detection %.2f s; per AWS call %d ms, S3 as realism.S3_LATENCY_MODEL (not scaled). Real "
             "times for the projection (dr_real_step_seconds): %s." % (
                 MODEL, tf, patch["promotion_seconds"], patch["promotion_seconds_spread"],
                 max(realism.promotion_seconds(r, patch) for r in REPLICAS), patch["rds_modify_seconds"], pod,
                 patch["dns_propagation_seconds"], patch["resolver_ttl_seconds"], patch["health_check_delay_seconds"],
                 patch["latency_ms"], json.dumps(real_step_seconds())), ""]
    lines += ["## Figures against the issue's bars", "", "| figure | measured | bar | |", "|---|---|---|---|"]
    if failover:
        a = failover["analysis"]
        ratio = failover["wall"] / a["cp"]
        lines.append("| failover wall / its critical path on the model | %.1f s / %.2f s = **%.2f** | <= 1.10 | %s |" % (
            failover["wall"], a["cp"], ratio, "met" if ratio <= 1.10 else "missed"))
    if failover and peer:
        speed = peer["wall"] / failover["wall"]
        lines.append("| peer runbook wall / ours | %.1f s / %.1f s = **%.1fx** | >= 50x | %s |" % (
            peer["wall"], failover["wall"], speed, "met" if speed >= 50 else "missed"))
    if failover:
        rep = failover["report"]
        proj = rep.get("projected_rto_seconds")
        lines.append("| projected RTO printed by the report (seed's real step times) | %s | <= 360 s | %s |" % (
            "%.1f s (achieved here %.1f s)" % (proj, rep.get("achieved_rto_seconds") or 0) if proj is not None else "-",
            "-" if proj is None else "met" if proj <= 360 else "missed"))
        model_proj = failover["cp_real"] + (failover["wall"] - failover["analysis"]["cp"])
        lines.append("| (for comparison) the model's critical path at real times + this run's overhead | %.1f s + %.1f s = "
                     "%.1f s | <= 360 s | %s |" % (failover["cp_real"], failover["wall"] - failover["analysis"]["cp"],
                                                   model_proj, "met" if model_proj <= 360 else "missed"))
    dbs = [r for r in scaling if r["kind"] == "databases"]
    deps = [r for r in scaling if r["kind"] == "deployments"]
    for rows, what in ((dbs, "rds_promote_batch: DescribeDBInstances per poll"), (deps, "eks_scale_services: list calls per poll")):
        if rows:
            lines.append("| %s, %s | %s | constant | %s |" % (
                what, " / ".join(str(r["n"]) for r in rows), " / ".join(
                    "-" if r["per_poll"] is None else "%.2f" % r["per_poll"] for r in rows),
                "met" if len({None if r["per_poll"] is None else round(r["per_poll"], 2) for r in rows}) == 1 else "see below"))
    for rows, what in ((dbs, "rds_promote_batch"), (deps, "eks_scale_services")):
        if rows and all(r["peak"] for r in rows):
            lines.append("| %s module process peak RSS, %s | %s MiB | flat | %s |" % (
                what, " / ".join(str(r["n"]) for r in rows), " / ".join("%.0f" % r["peak"] for r in rows),
                "grows %.0f%%" % (100.0 * (rows[-1]["peak"] / rows[0]["peak"] - 1))))
    if failover:
        a = failover["analysis"]
        ov = failover["task_overhead"]
        lines += ["", "## 1. failover.yml (ours)", "",
                  "Process wall %.1f s; report wall %.1f s; achieved RTO %s s; critical path %.2f s (derivation: "
                  "bench/bench_runbook.py CRITICAL_PATH, its round trips x %d ms); the edge answers from %s after. "
                  "%d tasks; our modules' overhead per task (task start to end minus the module's elapsed_seconds, %d "
                  "tasks): median %.2f s, max %.2f s, total %.1f s." % (
                      failover["wall"], a["report_wall"], failover["report"].get("achieved_rto_seconds"), a["cp"],
                      patch["latency_ms"], failover["edge_region"], a["n_tasks"], len(ov),
                      statistics.median(ov) if ov else 0, max(ov) if ov else 0, sum(ov)), "",
                  "| step | window (s) | exclusive wall (s) | modelled wait (s) | round trips | floor (s) | overhead (s) "
                  "| tasks (modules) | modules' own elapsed (s) | AWS calls |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in a["rows"]:
            lines.append("| %s%s | %.2f | %.2f | %.2f | %d | %.2f | %.2f | %d (%d) | %.2f | %d |" % (
                r["step"], " (holds %s)" % ", ".join(r["nested"]) if r["nested"] else "", r["window"], r["wall"],
                r["wait"], r["rtt"], r["floor"], r["wall"] - r["floor"], r["tasks"], r["modules"],
                r["module_elapsed"], r["calls"]))
        lines += ["| (start-up / gaps / after the last step) | | %.2f / %.2f / %.2f | | %d | %.2f | | | | |" % (
            a["startup"], a["gaps"], a["tail"], a["between_rtt"], a["between_rtt"] * rb.LATENCY),
            "| **total** | | **%.2f** | | | **%.2f** | **%.2f** | | | **%d** |" % (
                failover["wall"], a["cp"], failover["wall"] - a["cp"], failover["calls"]["total"]), "",
            "Where the wall goes, by kind of task:", "", "| kind | tasks | seconds |", "|---|---|---|"]
        for kind, secs in sorted(a["kinds"].items(), key=lambda kv: -kv[1]):
            lines.append("| %s | %s | %.2f |" % (kind, a["counts"].get(kind, "") or "", secs))
        ops = failover["calls"]["by_operation"]
        lines += ["", "AWS calls by service: " + fmt_ops(by_service(ops)), "",
                  "AWS calls by operation: " + fmt_ops(ops), "",
                  "Kubernetes writes: " + fmt_ops(failover["k8s_writes"])]
    if peer:
        ops = peer["calls"]["by_operation"]
        lines += ["", "## 2. The peer (bench/peer/failover.yml)", "",
                  "Same fresh world and model. RDS waits: %s. Wall %.1f s; replicas promoted %d/8; the edge answers from "
                  "%s after. Not in the peer (no stock module): the EKS node group, the session Redis, the lock, the "
                  "report." % (peer["waiter"], peer["wall"], peer["promoted"], peer["edge_region"]), "",
                  "| task (all its loop items) | seconds |", "|---|---|"]
        for name, secs in peer["per_task"].items():
            lines.append("| %s | %.1f |" % (name, secs))
        lines += ["", "AWS calls by service: " + fmt_ops(by_service(ops)), "", "AWS calls by operation: " + fmt_ops(ops),
                  "", "Kubernetes writes: " + fmt_ops(peer["k8s_writes"])]
    if scaling:
        lines += ["", "## 3. Scaling", "",
                  "Ours through run_module (the `ansible` CLI), poll interval %.1f s; peak RSS of the module process "
                  "(bench_s3's probe interpreter). Databases: the seed's 8 replicas plus throwaway ones; promotion per the "
                  "model (each replica its own time). Deployments: throwaway ones (0 -> 1, no Secrets) in a scratch "
                  "namespace, deleted after; pod start per the model. The peer: bench/peer/failover.yml --tags "
                  "promote (rds_instance wait: false + rds_instance_info until, 2 s) or --tags scale (k8s_scale, "
                  "wait_sleep 1), peak RSS the largest of its module processes." % POLL, "",
                  "| resources | ours wall (s) | module elapsed (s) | modelled wait (s) | polls | calls | per poll | peak RSS (MiB) "
                  "| peer wall (s) | peer calls | peer peak RSS (MiB) | peer / ours |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in scaling:
            p = r.get("peer")
            lines.append("| %d %s | %.1f | %.2f | %.2f | %d | %d | %s | %s | %s | %s | %s | %s |" % (
                r["n"], r["kind"], r["wall"], r["elapsed"], r["floor"], r["polls"], r["calls"],
                "-" if r["per_poll"] is None else "%.2f" % r["per_poll"], "-" if r["peak"] is None else "%.0f" % r["peak"],
                "%.1f" % p["wall"] if p else "-", p["calls"] if p and p["calls"] is not None else "-",
                "%.0f" % p["peak"] if p and p["peak"] else "-", "%.1fx" % (p["wall"] / r["wall"]) if p else "-"))
        for r in scaling:
            lines.append("")
            lines.append("- %d %s, ours: %s" % (r["n"], r["kind"], fmt_ops(r["ops"])))
            if r.get("peer") and r["peer"]["ops"]:
                lines.append("- %d %s, peer: %s" % (r["n"], r["kind"], fmt_ops(r["peer"]["ops"])))
    if s3:
        lines += ["", "## 4. S3: s3_crr_sync (max_concurrency 64) against `aws s3 sync`", "",
                  "bench_s3's runs (fresh pair, 10 % different, S3 latency model); figures as bench/results/s3.md.", "",
                  "| objects | tool | wall (s) | copied | calls | right | peer / ours |", "|---|---|---|---|---|---|---|"]
        for objects, runs in s3.items():
            for label in ("ours", "peer"):
                run = runs[label]
                lines.append("| %d | %s | %.1f | %d | %d | %s | %s |" % (
                    objects, "s3_crr_sync" if label == "ours" else "aws s3 sync", run["wall"], run["copied"],
                    sum(run["calls"].values()), run["right"],
                    "%.2fx" % (runs["peer"]["wall"] / runs["ours"]["wall"]) if label == "peer" else ""))
    if notes:
        lines += ["", "## Parts that failed", ""] + ["- " + n.replace("\n", " ") for n in notes]
    if pngs:
        lines += ["", "## Plots", ""] + ["![%s](%s)" % (os.path.basename(p), os.path.basename(p)) for p in pngs]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, the peer's own RDS poll loop")
    parser.add_argument("--full", action="store_true", help="the peer at 200 too, S3 at 100,000 objects")
    parser.add_argument("--time-factor", type=float, default=1 / 60)
    parser.add_argument("--only", default="failover,peer,scale,s3")
    parser.add_argument("--scale-after-verify", action="store_true",
                        help="failover with dr_rds_scale_after_verify=true (the class changes off the RTO); the critical "
                             "path analysis still assumes them before DNS, so read its wall / CP with care")
    parser.add_argument("--db-sizes", help="replicas to promote, comma-separated (8,50,200; --quick 8,50)")
    parser.add_argument("--k8s-sizes", help="deployments to scale, comma-separated (9,50,200; --quick 9,50)")
    parser.add_argument("--out", help="results file (default bench/results/<date>.md; --quick: <date>-quick.md)")
    parser.add_argument("--render-from", help="only render a pickle of a run's measurements again")
    args = parser.parse_args()
    if args.render_from:
        render_from(args)
        return
    only = set(args.only.split(","))
    kubeconfig = os.environ.get("KUBECONFIG")
    if not kubeconfig or not os.path.exists(os.path.join(os.path.dirname(kubeconfig), "cluster.json")):
        sys.exit("run me inside scripts/in-netns.sh scripts/with-world.sh --k8s -- ...")
    run_dir = os.path.dirname(kubeconfig)
    world = World(os.environ["AWS_ENDPOINT_URL"])
    tf = args.time_factor
    stamp = datetime.date.today().isoformat() + ("-quick" if args.quick else "")
    started, load0 = time.time(), os.getloadavg()
    with open(os.path.join(rb.CALLBACK_DIR, "bench_timeline.py"), "w", encoding="utf-8") as handle:
        handle.write(rb.CALLBACK)
    failover = peer = None
    scaling, s3, notes = [], {}, []
    tmp = tempfile.mkdtemp(prefix="bench-suite-")
    try:
        probe = probe_interpreter(tmp)
        if "failover" in only:
            failover = section(notes, "failover (ours)", ours_failover, world, run_dir, kubeconfig, tf,
                               args.scale_after_verify)
            if failover:
                failover["time_factor"] = tf
                print("failover (ours): wall %.1f s, critical path %.2f s, projected RTO %s s" % (
                    failover["wall"], failover["analysis"]["cp"], failover["report"].get("projected_rto_seconds")),
                    flush=True)
        if "peer" in only:
            peer = section(notes, "failover (peer)", peer_failover, world, run_dir, kubeconfig, tf, args.quick)
            if peer:
                print("failover (peer): wall %.1f s, %d AWS calls" % (peer["wall"], peer["calls"]["total"]), flush=True)
        if "scale" in only:
            sizes_db = [int(n) for n in args.db_sizes.split(",")] if args.db_sizes else [8, 50] if args.quick else [8, 50, 200]
            sizes_k8s = [int(n) for n in args.k8s_sizes.split(",")] if args.k8s_sizes else \
                [9, 50] if args.quick else [9, 50, 200]
            peer_max = 8 if args.quick else 200 if args.full else 50
            for n in sizes_db:
                row = section(notes, "scale %d databases" % n, scale_databases, world, n, tf, probe, tmp, n <= peer_max)
                if row:
                    scaling.append(row)
                    print("scale %d databases: %.1f s (peer %s)" % (n, row["wall"], row.get("peer", {}).get("wall")),
                          flush=True)
            world.reset()
            plane = Plane(kubeconfig)
            for n in sizes_k8s:
                row = section(notes, "scale %d deployments" % n, scale_deployments, plane, n, tf, probe, tmp,
                              n <= max(peer_max, 9))
                if row:
                    scaling.append(row)
                    print("scale %d deployments: %.1f s (peer %s)" % (n, row["wall"], row.get("peer", {}).get("wall")),
                          flush=True)
        if "s3" in only:
            sizes = [(1000, 100, (1024, 102400))] if args.quick else [(10000, 1000, (1024, 102400))]
            if args.full:
                sizes.append((100000, 10000, (100, 1000)))
            for objects, different, size in sizes:
                runs = section(notes, "s3 %d objects" % objects, s3_runs, world, objects, different, size, tmp)
                if runs:
                    s3[objects] = runs
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(rb.CALLBACK_DIR, ignore_errors=True)
    load1 = os.getloadavg()
    finish(args, stamp, tf, failover, peer, scaling, s3, (load0, load1), started, notes)


def finish(args, stamp, tf, failover, peer, scaling, s3, load, started, notes, duration=None):
    """Plots and the results file; the measurements are pickled first (--render-from renders them again)."""
    out = args.out or os.path.join(RESULTS_DIR, "%s.md" % stamp)
    saved = dict(stamp=stamp, tf=tf, failover=failover, peer=peer, scaling=scaling, s3=s3, load=load, started=started,
                 notes=notes, argv=sys.argv[1:], duration=duration or time.time() - started)
    with open(os.path.join(tempfile.gettempdir(), "bench-suite-last.pickle"), "wb") as handle:
        pickle.dump(saved, handle)
    pngs = plots(stamp, failover, scaling, os.path.dirname(os.path.abspath(out)))
    text = render(args, stamp, tf, failover, peer, scaling, s3, load, saved["duration"], pngs, notes)
    with open(out, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(text)
    print("wrote %s %s" % (out, " ".join(pngs)))


def render_from(args):
    with open(args.render_from, "rb") as handle:
        saved = pickle.load(handle)
    sys.argv[1:] = saved["argv"]
    finish(args, saved["stamp"], saved["tf"], saved["failover"], saved["peer"], saved["scaling"], saved["s3"],
           saved["load"], saved["started"], saved["notes"], saved["duration"])


if __name__ == "__main__":
    main()
