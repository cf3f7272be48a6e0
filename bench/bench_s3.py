"""Benchmark (not a test): s3_crr_sync mode=sync vs `aws s3 sync`, bucket to bucket across regions.

    scripts/in-netns.sh scripts/with-world.sh -- python -m bench.bench_s3 [--objects 10000] [--different 1000]
        [--concurrency 32,64] [--big] [--quick] [--no-touch]

For each run the world is reset and a fresh pair of versioned buckets is filled straight into moto
(World.fill_s3): --objects objects of 1-100 KB in the source (eu-west-2), the same in the destination
(eu-west-1) except --different of them (half missing, half changed with the same size). The fill
writes each key's destination copy just after its source, so a changed object is as new in the
destination as in the source; a failback's changes are newer in the source, so the changed keys are
then rewritten in place in the source a second later (same bytes, newer LastModified; --no-touch
skips this, and `aws s3 sync`, which compares size and time only, then leaves them stale).
Then, with the S3 latency model on (realism.S3_LATENCY_MODEL):
  (a) ours: lomashwood.multiregion.s3_crr_sync mode=sync through the ansible CLI (run_module), at
      each --concurrency (max_concurrency; 32 is the default);
  (b) the peer: `aws s3 sync s3://src s3://dst` (awscli v1, its defaults: 10 concurrent requests);
then each tool again on its now synced pair (nothing to copy).
Figures: process wall; for ours also the module process alone (the interpreter ansible runs,
through a wrapper that reports its wall, CPU and peak RSS) and the module's elapsed_seconds; CPU
seconds of the tool's processes and of the world's process; calls by operation (World.calls(),
reset before each run), ListObjectsV2 per bucket checked against ceil(objects / 1000); whether the
destination then holds the source's keys with the same sizes and ETags.
--big adds the module's peak RSS at 100,000 objects of 100-1,000 bytes (same --different).
Prints Markdown tables and writes bench/results/s3.md (--quick: bench/results/s3-quick.md).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import glob
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from tests.integration.runner import ROOT, ansible_env, run_module
from tests.world import realism
from tests.world.control import World
from ansible_collections.lomashwood.multiregion.plugins.plugin_utils import warm_python  # (runner put it on the path)

SRC_REGION, DST_REGION = "eu-west-2", "eu-west-1"
PREFIX = "bench/"
PAGE = 1000  # ListObjectsV2 keys per page
LATENCY_OFF = dict(operation_latency_ms=None, s3_copy_bytes_per_second=None, s3_cross_region_copy_ms=0)
CLK_TCK = os.sysconf("SC_CLK_TCK")
REVISION = "?"

# The interpreter ansible runs the module with: runs the real one, then appends the module
# process's wall, CPU and peak RSS (ru_maxrss of its only child, KiB on Linux) to $BENCH_PROBE_FILE.
PROBE = """#!%(python)s
import json, os, resource, subprocess, sys, time
started, started_at = time.monotonic(), time.time()
rc = subprocess.call([%(python)r] + sys.argv[1:])
wall = time.monotonic() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(os.environ["BENCH_PROBE_FILE"], "a") as out:
    out.write(json.dumps(dict(started_at=started_at, wall=wall, cpu=usage.ru_utime + usage.ru_stime, maxrss_kib=usage.ru_maxrss)) + "\\n")
sys.exit(rc)
"""


def world_pid():
    """The pid of this run's world (with-world.sh starts it with --endpoint-file $LOMASHWOOD_RUN_DIR/...)."""
    run_dir = os.environ.get("LOMASHWOOD_RUN_DIR")
    if not run_dir:
        return None
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"tests.world" in argv and any(a.startswith(run_dir.encode()) for a in argv):
            return int(path.split("/")[2])
    return None


def cpu_of(pid):
    """utime + stime of a process, in seconds (None when unknown)."""
    if pid is None:
        return None
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Timeline:
    """world.calls() sampled every `every` seconds while a tool runs: when each operation ran."""

    def __init__(self, world, every=0.25):
        self.world, self.every, self.samples = world, every, []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            try:
                self.samples.append((time.time(), self.world.calls()["by_operation"]))
            except OSError:
                pass
            self.stop.wait(self.every)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def phases(self, start, ops=("s3:ListObjectsV2", "s3:HeadObject", "s3:CopyObject")):
        """{op: (first seen, last increase)} in seconds since start (to within one sample)."""
        out = {}
        for op in ops:
            seen = [(t, calls.get(op, 0)) for t, calls in self.samples]
            final = seen[-1][1] if seen else 0
            if not final:
                continue
            first = next(t for t, n in seen if n > 0)
            last = next(t for t, n in seen if n == final)
            out[op] = (first - start, last - start, final)
        return out


class Bench:
    def __init__(self, world, tmp):
        self.world, self.tmp = world, tmp
        self.world_pid = world_pid()
        self.probe = os.path.join(tmp, "probe-python")
        with open(self.probe, "w") as f:
            f.write(PROBE % dict(python=sys.executable))
        os.chmod(self.probe, 0o755)
        self.aws = shutil.which("aws")
        pyenv = shutil.which("pyenv")
        if pyenv:  # the real script, not pyenv's bash shim (its start-up is not awscli's)
            found = subprocess.run([pyenv, "which", "aws"], capture_output=True, text=True, check=False).stdout.strip()
            self.aws = found or self.aws
        if not self.aws:
            raise SystemExit("no `aws` on PATH (awscli v1)")

    # ---- the buckets ----------------------------------------------------------------------------

    def fresh_pair(self, count, different, min_bytes, max_bytes, touch=True):
        """Reset the world, fill a new pair, rewrite the changed keys in the source; latency model on."""
        world = self.world
        world.reset()
        world.configure(**LATENCY_OFF)
        tag = uuid.uuid4().hex[:8]
        pair = dict(src="bench-src-%s" % tag, dst="bench-dst-%s" % tag, count=count)
        started = time.monotonic()
        fill = world.fill_s3([dict(name=pair["src"], region=SRC_REGION), dict(name=pair["dst"], region=DST_REGION)],
                             count=count, different=different, prefix=PREFIX, min_bytes=min_bytes,
                             max_bytes=max_bytes, seed=1)
        pair["fill"] = fill
        pair["fill_seconds"] = time.monotonic() - started
        src, dst = self.listing(SRC_REGION, pair["src"]), self.listing(DST_REGION, pair["dst"])
        if len(src) != count or len(dst) != count - fill["missing_count"]:
            raise SystemExit("fill gave %d/%d objects, not %d/%d" % (len(src), len(dst), count,
                                                                     count - fill["missing_count"]))
        changed = sorted(k for k, v in src.items() if k in dst and dst[k] != v)
        if len(changed) != fill["changed_count"]:
            raise SystemExit("fill changed %d objects, not %d" % (len(changed), fill["changed_count"]))
        pair["changed"], pair["missing"] = len(changed), fill["missing_count"]
        pair["different_bytes"] = sum(size for key, (size, _etag) in src.items() if dst.get(key) != (size, _etag))
        if touch and changed:
            time.sleep(1.1)  # LastModified has whole seconds: the rewrite is strictly newer
            s3 = world.client("s3", SRC_REGION)

            def rewrite(key):
                s3.copy_object(Bucket=pair["src"], Key=key, CopySource=dict(Bucket=pair["src"], Key=key),
                               MetadataDirective="REPLACE")

            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                list(pool.map(rewrite, changed))
        pair["dst_count"] = len(dst)
        pair["setup_seconds"] = time.monotonic() - started
        world.configure(**realism.S3_LATENCY_MODEL)
        world.reset_calls()
        return pair

    def listing(self, region, bucket):
        """{key: (size, etag)} of the bucket, through boto3."""
        pages = self.world.client("s3", region).get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return {o["Key"]: (o["Size"], o["ETag"]) for page in pages for o in page.get("Contents", [])}

    def verdict(self, pair):
        """Whether the destination holds the source's keys with the same sizes and ETags (latency off)."""
        self.world.configure(**LATENCY_OFF)
        try:
            src, dst = self.listing(SRC_REGION, pair["src"]), self.listing(DST_REGION, pair["dst"])
        finally:
            self.world.configure(**realism.S3_LATENCY_MODEL)
        missing = [k for k in src if k not in dst]
        wrong_size = [k for k in src if k in dst and dst[k][0] != src[k][0]]
        stale = [k for k in src if k in dst and dst[k][0] == src[k][0] and dst[k][1] != src[k][1]]
        extra = [k for k in dst if k not in src]
        if not (missing or wrong_size or stale or extra):
            return "yes (%d keys)" % len(src)
        return "NO: %d missing, %d other size, %d same size other ETag, %d extra" % (
            len(missing), len(wrong_size), len(stale), len(extra))

    # ---- the runs -------------------------------------------------------------------------------

    def calls(self):
        report = self.world.calls()
        by_op = {op: n for op, n in report["by_operation"].items() if n}
        lists = {region: report["by_region"].get(region, {}).get("s3:ListObjectsV2", 0)
                 for region in (SRC_REGION, DST_REGION)}
        return by_op, lists

    def ours(self, pair, concurrency, label, warm=False):
        """One s3_crr_sync run. Cold: through the probe interpreter, which measures the module process. Warm:
        through the warm interpreter, as the inventories run modules (docs/performance.md); the module runs in
        a fork of its server, so there is no module process to probe, and the server is started (by a first
        module run) before, as a playbook's earlier tasks would have."""
        probe_file = os.path.join(self.tmp, "probe-%s.jsonl" % uuid.uuid4().hex[:6])
        if warm:
            env = dict(ANSIBLE_PYTHON_INTERPRETER=warm_python.launcher(sys.executable))
            # (ping with no arguments fails before it runs anything: `-a '{}'` is raw params, which ping refuses,
            # so the first measured run used to start the server itself, ~0.5 s)
            ping = run_module("ansible.builtin.ping", dict(data="pong"), env=env)
            if ping.get("failed"):
                raise SystemExit("the warm-up module run failed: %s" % ping.get("msg"))
        else:
            env = dict(ANSIBLE_PYTHON_INTERPRETER=self.probe, BENCH_PROBE_FILE=probe_file)
        args = dict(mode="sync", source=dict(bucket=pair["src"], region=SRC_REGION),
                    destination=dict(bucket=pair["dst"], region=DST_REGION), max_concurrency=concurrency)
        self.world.reset_calls()
        cpu0, world0 = children_cpu(), cpu_of(self.world_pid)
        t0, t0_epoch = time.monotonic(), time.time()
        with Timeline(self.world) as timeline:
            res = run_module("s3_crr_sync", args, env=env, timeout=1800)
        wall = time.monotonic() - t0
        cpu, world_cpu = children_cpu() - cpu0, cpu_of(self.world_pid)
        calls, lists = self.calls()
        if res.get("failed"):
            raise SystemExit("s3_crr_sync failed: %s\n%s" % (res.get("msg"), res["_stdout"][-3000:]))
        if warm:
            process = dict(module_process=None, module_start=None, phases=timeline.phases(t0_epoch), end=wall,
                           module_cpu=None, maxrss_mib=None)
        else:
            with open(probe_file) as f:
                probe = [json.loads(line) for line in f][-1]
            process = dict(module_process=probe["wall"], module_start=probe["started_at"] - t0_epoch,
                           phases=timeline.phases(probe["started_at"]), end=probe["wall"], module_cpu=probe["cpu"],
                           maxrss_mib=probe["maxrss_kib"] / 1024.0)
        summary = res["summary"]
        return dict(process, label=label, concurrency=concurrency, wall=wall, elapsed=res["elapsed_seconds"], cpu=cpu,
                    world_cpu=None if world0 is None else world_cpu - world0, calls=calls, lists=lists,
                    copied=summary["copy"]["count"], copied_bytes=summary["copy"]["bytes"],
                    module_ops=summary.get("objects_per_second"), api_calls=res.get("api_calls"),
                    changed=res["changed"], unchanged=summary["unchanged"], kept_newer=summary["kept_newer"]["count"])

    def peer(self, pair, label):
        cmd = [self.aws, "s3", "sync", "s3://%s" % pair["src"], "s3://%s" % pair["dst"],
               "--endpoint-url", self.world.endpoint, "--source-region", SRC_REGION, "--region", DST_REGION,
               "--only-show-errors"]
        env = ansible_env(self.world.env())  # test credentials, AWS_CONFIG_FILE=/dev/null, ...
        self.world.reset_calls()
        cpu0, world0 = children_cpu(), cpu_of(self.world_pid)
        t0, t0_epoch = time.monotonic(), time.time()
        with Timeline(self.world) as timeline:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
        wall = time.monotonic() - t0
        cpu, world_cpu = children_cpu() - cpu0, cpu_of(self.world_pid)
        calls, lists = self.calls()
        if proc.returncode != 0:
            raise SystemExit("aws s3 sync failed (rc %d):\n%s\n%s" % (proc.returncode, proc.stdout[-3000:],
                                                                     proc.stderr[-3000:]))
        return dict(label=label, concurrency=None, copied_bytes=pair["different_bytes"], wall=wall,
                    module_process=None, elapsed=None, phases=timeline.phases(t0_epoch), end=wall, cpu=cpu, maxrss_mib=None,
                    world_cpu=None if world0 is None else world_cpu - world0, calls=calls, lists=lists,
                    copied=calls.get("s3:CopyObject", 0), module_ops=None)


# ---- figures --------------------------------------------------------------------------------------

def expected_lists(pair):
    """ListObjectsV2 calls a full listing takes: ceil(keys / 1000), at least 1, per bucket."""
    return {SRC_REGION: max(1, math.ceil(pair["count"] / PAGE)), DST_REGION: max(1, math.ceil(pair["dst_count"] / PAGE))}


def check_lists(run, pair):
    want = expected_lists(pair)
    ok = run["lists"] == want
    run["lists_ok"] = ok
    print("  %s: ListObjectsV2 source %d (want %d), destination %d (want %d) %s" % (
        run["label"], run["lists"][SRC_REGION], want[SRC_REGION], run["lists"][DST_REGION], want[DST_REGION],
        "ok" if ok else "MISMATCH"), flush=True)
    return ok


def modelled_latency(calls):
    """Seconds of per-call latency the model adds, summed over the calls (before any concurrency);
    every copy here is cross-region, so CopyObject also takes s3_cross_region_copy_ms (bytes not counted)."""
    model = realism.S3_LATENCY_MODEL
    per_call = sum(model["operation_latency_ms"].get(op, 0) * n for op, n in calls.items())
    return (per_call + model.get("s3_cross_region_copy_ms", 0) * calls.get("s3:CopyObject", 0)) / 1000.0


def latency_floor(run, concurrency):
    """Seconds the latency model alone needs (no CPU anywhere), the tool's order of calls assumed:
    ours lists both buckets at once, then heads, then copies, `concurrency` at a time; awscli lists
    the buckets one page after another while it copies, 10 at a time (its default)."""
    model = realism.S3_LATENCY_MODEL
    ms = model["operation_latency_ms"]
    copies = run["calls"].get("s3:CopyObject", 0)
    copy_ms = ms["s3:CopyObject"] + model.get("s3_cross_region_copy_ms", 0) + (
        1000.0 * run.get("copied_bytes", 0) / copies / model["s3_copy_bytes_per_second"] if copies and run.get("copied_bytes") else 0)
    if concurrency is None:
        listing = sum(run["lists"].values()) * ms["s3:ListObjectsV2"]
        return max(listing, copies * copy_ms / 10) / 1000.0
    listing = max(run["lists"].values()) * ms["s3:ListObjectsV2"]
    heads = math.ceil(run["calls"].get("s3:HeadObject", 0) / concurrency) * ms["s3:HeadObject"]
    return (listing + heads + math.ceil(copies / concurrency) * copy_ms) / 1000.0


def fmt_calls(calls):
    return ", ".join("%s %d" % (op.split(":", 1)[1] if op.startswith("s3:") else op, n) for op, n in sorted(calls.items()))


def num(value, fmt="%.2f"):
    return "-" if value is None else fmt % value


def rate(count, seconds):
    return count / seconds if seconds else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=None, help="objects in the source (10,000)")
    parser.add_argument("--different", type=int, default=None, help="objects to copy (1,000)")
    parser.add_argument("--concurrency", default="32,64", help="max_concurrency values for ours")
    parser.add_argument("--big", action="store_true", help="also the peak RSS at 100,000 objects")
    parser.add_argument("--big-objects", type=int, default=None, help="objects of the --big run (100,000)")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--out", default=None, help="the results file (bench/results/s3.md; --quick: s3-quick.md)")
    parser.add_argument("--warm", action="store_true",
                        help="also ours through the warm interpreter the inventories set, at the first concurrency")
    parser.add_argument("--no-touch", action="store_true", help="leave changed objects as new in the destination")
    args = parser.parse_args()
    objects = args.objects or (1000 if args.quick else 10000)
    different = args.different if args.different is not None else objects // 10
    big_objects = args.big_objects or (10000 if args.quick else 100000)
    concurrencies = [int(c) for c in args.concurrency.split(",") if c.strip()]
    global REVISION
    REVISION = revision()  # before the runs: the code that ran
    world = World(os.environ["AWS_ENDPOINT_URL"])
    load_before = os.getloadavg()

    rows, reruns, memory, notes = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-s3-") as tmp:
        bench = Bench(world, tmp)
        if bench.world_pid is None:
            notes.append("The world's process was not found, so its CPU is not reported.")
        runs = [("ours: s3_crr_sync max_concurrency %d" % c, c, False) for c in concurrencies]
        if args.warm:
            runs.append(("ours: s3_crr_sync max_concurrency %d, warm interpreter" % concurrencies[0], concurrencies[0], True))
        runs.append(("peer: aws s3 sync", None, False))
        for label, concurrency, warm in runs:
            pair = bench.fresh_pair(objects, different, 1024, 102400, touch=not args.no_touch)
            print("%s: filled %d + %d objects (%d missing, %d changed) in %.1fs" % (
                label, pair["count"], pair["dst_count"], pair["missing"], pair["changed"], pair["setup_seconds"]),
                flush=True)
            first = bench.ours(pair, concurrency, label, warm) if concurrency else bench.peer(pair, label)
            first["right"] = bench.verdict(pair)
            check_lists(first, pair)
            rows.append(first)
            print("  %s: wall %.2fs copied %d %s right: %s" % (label, first["wall"], first["copied"],
                                                             json.dumps(first["calls"]), first["right"]), flush=True)
            again = bench.ours(pair, concurrency, label, warm) if concurrency else bench.peer(pair, label)
            again["right"] = bench.verdict(pair)
            check_lists(again, pair)
            reruns.append(again)
            print("  %s rerun: wall %.2fs copied %d %s" % (label, again["wall"], again["copied"],
                                                         json.dumps(again["calls"])), flush=True)
            if concurrency == concurrencies[0] and not warm:
                memory.append(dict(first, objects=objects, sizes="1-100 KB", different=different))
        if args.big:
            pair = bench.fresh_pair(big_objects, different, 100, 1000, touch=not args.no_touch)
            print("big: filled %d objects in %.1fs" % (big_objects, pair["setup_seconds"]), flush=True)
            big = bench.ours(pair, concurrencies[0], "ours: s3_crr_sync, %d objects" % big_objects)
            big["right"] = bench.verdict(pair)
            check_lists(big, pair)
            memory.append(dict(big, objects=big_objects, sizes="100-1,000 B", different=different))
            print("  big: wall %.2fs rss %.1f MiB copied %d right: %s" % (big["wall"], big["maxrss_mib"], big["copied"],
                                                                         big["right"]), flush=True)
    world.reset()
    notes.append("Load average (1/5/15 min) at the start %.2f/%.2f/%.2f, at the end %.2f/%.2f/%.2f: other work shared "
                 "the 2 cores." % (load_before + os.getloadavg()))

    text = report(args, objects, different, rows, reruns, memory, notes)
    print(text)
    name = "s3-quick.md" if args.quick else "s3.md"
    with open(args.out or os.path.join(ROOT, "bench", "results", name), "w") as f:
        f.write(text)
    failed = [r["label"] for r in rows + reruns + memory if not r["lists_ok"] or not r["right"].startswith("yes")]
    if failed:
        print("list calls or destination wrong for: %s" % ", ".join(failed), file=sys.stderr)
        sys.exit(1)


def versions(aws):
    import ansible
    import boto3
    import moto
    aws_version = subprocess.run([aws, "--version"], capture_output=True, text=True, check=False)
    return "ansible-core %s, boto3 %s, moto %s, %s" % (ansible.__version__, boto3.__version__, moto.__version__,
                                                        (aws_version.stdout or aws_version.stderr).split(" Linux")[0])


def revision():
    """HEAD, and whether the module, its core or the world differed from it when the bench ran."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=False).stdout.strip()
    dirty = subprocess.run(["git", "status", "--short", "--", "plugins", "tests/world"], cwd=ROOT,
                           capture_output=True, text=True, check=False).stdout.split("\n")
    dirty = [line[3:] for line in dirty if line.strip()]
    return "commit %s%s" % (head, " with local changes to " + ", ".join(dirty) if dirty else "")


def report(args, objects, different, rows, reruns, memory, notes):
    command = "cd /work/main && scripts/in-netns.sh scripts/with-world.sh -- python -m bench.bench_s3" + (
        " " + " ".join(sys.argv[1:]) if sys.argv[1:] else "")
    model = realism.S3_LATENCY_MODEL
    lat = model["operation_latency_ms"]
    lines = [
        "# s3_crr_sync benchmark: mode=sync vs `aws s3 sync`, %s objects, %s to copy" % (
            "{:,}".format(objects), "{:,}".format(different)),
        "",
        "Embedded world (tests/world realism on moto), %s, %d cores (shared), Python %s; %s; %s." % (
            platform.machine(), os.cpu_count(), platform.python_version(), datetime.date.today().isoformat(),
            versions(shutil.which("aws") or "aws")),
        "Reproduce: `%s` (%s)" % (command, REVISION),
        "",
        "Source bucket eu-west-2, destination eu-west-1, both versioned, filled by `World.fill_s3` (seed 1, objects",
        "of 1-100 KB): the destination lacks half of the %s different keys and holds the other half with other" % (
            "{:,}".format(different)),
        "bytes of the same size%s. World reset and refilled before each tool; each tool then runs again on its" % (
            "" if args.no_touch else ", which are then rewritten in place in the source a second later (a failback's"
            " changes are newer in the source)"),
        "synced pair (the rerun). S3 latency model on: ListObjectsV2 %d ms, HeadObject %d ms, CopyObject %d ms + bytes"
        % (lat["s3:ListObjectsV2"], lat["s3:HeadObject"], lat["s3:CopyObject"]),
        "at %d MB/s per call (`realism.S3_LATENCY_MODEL`). Calls counted by the world, reset before each run." % (
            model["s3_copy_bytes_per_second"] / 1e6),
        "",
        "Wall = the whole `ansible` / `aws` process, start-up included. Module process = the interpreter ansible",
        "runs (AnsiballZ unpacking, imports, the run). Module elapsed = the module's `elapsed_seconds`. CPU = user+sys",
        "of the tool's processes (ansible's included) / of the world's process (moto, every request). Latency sum =",
        "the model's per-call latencies summed over the calls, before concurrency. Latency floor = what the model alone",
        "would take with no CPU cost anywhere, in the tool's own order (computed, not measured: ours lists both buckets",
        "at once, then heads, then copies, max_concurrency at a time; awscli lists page after page while copying 10 at a",
        "time), start-up not included. Right = the destination then holds every source key with the same size and ETag,",
        "nothing else.",
        "",
        "| run | copied | wall (s) | module process (s) | module elapsed (s) | objects/s (wall) | objects/s (module elapsed) "
        "| CPU tool / world (s) | latency sum (s) | latency floor (s) | calls by operation | ListObjectsV2 src/dst | right |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def row(r):
        return "| %s | %d | %.2f | %s | %s | %s | %s | %s / %s | %.1f | %.1f | %s | %d / %d%s | %s |" % (
            r["label"], r["copied"], r["wall"], num(r["module_process"]), num(r["elapsed"]),
            num(rate(r["copied"], r["wall"]), "%.0f"), num(rate(r["copied"], r["elapsed"]), "%.0f"),
            num(r["cpu"], "%.1f"), num(r["world_cpu"], "%.1f"), modelled_latency(r["calls"]),
            latency_floor(r, r["concurrency"]), fmt_calls(r["calls"]),
            r["lists"][SRC_REGION], r["lists"][DST_REGION], "" if r["lists_ok"] else " (WRONG)", r["right"])

    lines += [row(r) for r in rows]
    lines += [
        "",
        "## Rerun: nothing to copy",
        "",
        "| run | copied | wall (s) | module process (s) | module elapsed (s) | CPU tool / world (s) | latency sum (s) "
        "| calls by operation | ListObjectsV2 src/dst | right |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in reruns:
        lines.append("| %s | %d | %.2f | %s | %s | %s / %s | %.1f | %s | %d / %d%s | %s |" % (
            r["label"], r["copied"], r["wall"], num(r["module_process"]), num(r["elapsed"]), num(r["cpu"], "%.1f"),
            num(r["world_cpu"], "%.1f"), modelled_latency(r["calls"]), fmt_calls(r["calls"]),
            r["lists"][SRC_REGION], r["lists"][DST_REGION], "" if r["lists_ok"] else " (WRONG)", r["right"]))

    ours = [r for r in rows if r["label"].startswith("ours")]
    peer = [r for r in rows if r["label"].startswith("peer")]
    ours_again = [r for r in reruns if r["label"].startswith("ours")]
    peer_again = [r for r in reruns if r["label"].startswith("peer")]
    if ours and peer:
        best = max(ours, key=lambda r: rate(r["copied"], r["wall"]) or 0)
        peer_rate = rate(peer[0]["copied"], peer[0]["wall"])
        best_rate = rate(best["copied"], best["wall"])
        lines += [
            "",
            "## Against the targets",
            "",
            "| target | measured | met |",
            "|---|---|---|",
            "| ours >= 2x awscli's objects/s (process wall) | %.0f vs %.0f objects/s: %.2fx (%s) | %s |" % (
                best_rate, peer_rate, best_rate / peer_rate, best["label"], "yes" if best_rate >= 2 * peer_rate else "no"),
            "| same, ours by the module's elapsed_seconds | %.0f vs %.0f objects/s: %.2fx | %s |" % (
                rate(best["copied"], best["elapsed"]), peer_rate, rate(best["copied"], best["elapsed"]) / peer_rate,
                "yes" if rate(best["copied"], best["elapsed"]) >= 2 * peer_rate else "no"),
        ]
        if ours_again and peer_again:
            p = peer_again[0]
            for o in ours_again:
                lines.append("| our rerun >= 2x faster than awscli's (wall; %s) | %.2f s vs %.2f s: %.2fx | %s |" % (
                    o["label"], o["wall"], p["wall"], p["wall"] / o["wall"], "yes" if p["wall"] >= 2 * o["wall"] else "no"))
            probed = [o for o in ours_again if o["module_process"] is not None]
            if probed:
                o = probed[0]
                lines.append("| same, ours as the module process alone | %.2f s vs %.2f s: %.2fx | %s |" % (
                    o["module_process"], p["wall"], p["wall"] / o["module_process"],
                    "yes" if p["wall"] >= 2 * o["module_process"] else "no"))
        lines += ["", "## Where ours' time goes", "",
                  "| run | wall (s) | ansible around the module (s) | module start: AnsiballZ, imports (s) "
                  "| module elapsed (s) | module CPU (s) | world calls/s during elapsed |",
                  "|---|---|---|---|---|---|---|"]
        for r in ours + ours_again:
            if r["module_process"] is None:
                continue  # warm: no module process of its own to measure
            total = sum(r["calls"].values())
            lines.append("| %s%s | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f |" % (
                r["label"], " (rerun)" if r in ours_again else "", r["wall"], r["wall"] - r["module_process"],
                r["module_process"] - r["elapsed"], r["elapsed"], r["module_cpu"], total / r["elapsed"]))
    lines += ["", "## When each kind of call ran (world.calls() sampled every 0.25 s)", "",
              "Seconds from the start of the module process (ours) or of the `aws` process (peer): first call seen .. last",
              "call seen, and the count. The calls of one kind are spread over that span, not necessarily back to back.", "",
              "| run | ListObjectsV2 | HeadObject | CopyObject | process ends |", "|---|---|---|---|---|"]
    for r in rows + reruns:
        spans = []
        for op in ("s3:ListObjectsV2", "s3:HeadObject", "s3:CopyObject"):
            span = r["phases"].get(op)
            spans.append("%.1f .. %.1f (%d)" % span if span else "-")
        lines.append("| %s%s | %s | %.1f |" % (r["label"], " (rerun)" if r in reruns else "", " | ".join(spans), r["end"]))
    if memory:
        lines += ["", "## Peak memory of the module process (ru_maxrss)", "",
                  "| objects | sizes | different | peak RSS (MiB) | wall (s) | module elapsed (s) | copied "
                  "| ListObjectsV2 src/dst | right |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for m in memory:
            lines.append("| %s | %s | %s | %.1f | %.2f | %.2f | %d | %d / %d%s | %s |" % (
                "{:,}".format(m["objects"]), m["sizes"], "{:,}".format(m["different"]), m["maxrss_mib"], m["wall"],
                m["elapsed"], m["copied"], m["lists"][SRC_REGION], m["lists"][DST_REGION],
                "" if m["lists_ok"] else " (WRONG)", m["right"]))
        if len(memory) > 1:
            lines += ["", "Peak RSS at %s objects is %.2fx that at %s." % (
                "{:,}".format(memory[1]["objects"]), memory[1]["maxrss_mib"] / memory[0]["maxrss_mib"],
                "{:,}".format(memory[0]["objects"]))]
    lines += [""] + notes
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    main()
