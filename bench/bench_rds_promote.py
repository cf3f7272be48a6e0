"""Benchmark (not a test): rds_promote_batch against the naive peer, on the embedded world.

Run inside the loopback-only namespace with the world up:
    scripts/in-netns.sh scripts/with-world.sh -- .venv/bin/python -m bench.bench_rds_promote [--peer]

Figures (issue 3):
  - 8 replicas, 4 s simulated promotion: module wall time (target <= 1.25 x 4 s);
    --peer: the same with a loop of amazon.aws.rds_instance (read_replica: false), ~8 min;
  - DescribeDBInstances calls per poll interval, for 8 and for 100 replicas (target 1).
Writes bench/results/rds_promote.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from tests.integration.runner import ROOT, run_module
from tests.world.control import World

SERVICES = ["auth", "products", "orders", "appointments", "content", "customers", "notifications", "analytics"]
REPLICAS = ["lomash-%s-prod-replica" % s for s in SERVICES]
PROMOTION = 4.0


def fresh(world, extra_replicas=0):
    world.reset()
    info = world.seed(lag_seconds=5)
    names = list(REPLICAS)
    if extra_replicas:
        rds = world.client("rds", "eu-west-2")
        primaries = [p["arn"] for p in info["rds"]["primaries"].values()]
        subnet_group = next(iter(info["rds"]["subnet_groups"].values()))
        for i in range(extra_replicas):
            name = "bench-replica-%03d" % i
            rds.create_db_instance_read_replica(
                DBInstanceIdentifier=name, SourceDBInstanceIdentifier=primaries[i % len(primaries)],
                SourceRegion="eu-west-1", DBInstanceClass="db.t3.medium", DBSubnetGroupName=subnet_group)
            world.set_lag(name, 3)
            names.append(name)
    world.configure(promotion_seconds=PROMOTION)
    world.reset_calls()
    return names


def ours(world, names, poll_interval):
    t0 = time.monotonic()
    res = run_module("rds_promote_batch", {"region": "eu-west-2", "db_instance_identifiers": names,
                                           "poll_interval": poll_interval, "wait_timeout": 120})
    wall = time.monotonic() - t0
    assert not res.get("failed"), res.get("msg")
    assert {r["outcome"] for r in res["results"]} == {"promoted"}
    describes = world.calls()["by_operation"]["rds:DescribeDBInstances"]
    return dict(wall=wall, elapsed=res["elapsed_seconds"], polls=res["polls"], describes=describes,
                promotes=world.calls()["by_operation"]["rds:PromoteReadReplica"])


def peer(world, names):
    t0 = time.monotonic()
    for name in names:
        res = run_module("amazon.aws.rds_instance", {"region": "eu-west-2", "db_instance_identifier": name,
                                                     "read_replica": False, "wait": True}, timeout=900)
        assert not res.get("failed") and res["changed"], res.get("msg")
    wall = time.monotonic() - t0
    calls = world.calls()["by_operation"]
    return dict(wall=wall, describes=calls["rds:DescribeDBInstances"], promotes=calls["rds:PromoteReadReplica"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--peer", action="store_true", help="also time a loop of amazon.aws.rds_instance (~8 min)")
    parser.add_argument("--poll-interval", type=float, default=0.25)
    args = parser.parse_args()
    world = World(os.environ["AWS_ENDPOINT_URL"])
    rows = []

    fresh(world)
    r = ours(world, REPLICAS, args.poll_interval)
    rows.append(("rds_promote_batch, 8 replicas", r))
    r100 = None
    fresh_names = fresh(world, extra_replicas=92)
    r100 = ours(world, fresh_names, args.poll_interval)
    rows.append(("rds_promote_batch, 100 replicas", r100))
    if args.peer:
        fresh(world)
        rows.append(("amazon.aws.rds_instance loop, 8 replicas", peer(world, REPLICAS)))

    lines = [
        "# rds_promote_batch benchmark",
        "",
        "Embedded world, promotion takes %.0f s per replica; poll interval %.2f s; `%s`."
        % (PROMOTION, args.poll_interval, " ".join(["python -m bench.bench_rds_promote"] + sys.argv[1:])),
        "Module time = the module's own elapsed_seconds; process = the whole `ansible` command (start-up included).",
        "",
        "| run | module time (s) | process wall (s) | target (s) | polls | DescribeDBInstances | per poll | PromoteReadReplica |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, r in rows:
        polls = r.get("polls")
        per_poll = "%.2f" % ((r["describes"] - 1) / polls) if polls else "-"
        lines.append("| %s | %s | %.2f | %s | %s | %d | %s | %d |" % (
            label, "%.2f" % r["elapsed"] if "elapsed" in r else "-", r["wall"],
            "%.1f" % (1.25 * PROMOTION) if label.endswith(", 8 replicas") and "elapsed" in r else "-", polls if polls is not None else "-",
            r["describes"], per_poll, r["promotes"]))
    text = "\n".join(lines) + "\n"
    print(text)
    out = os.path.join(ROOT, "bench", "results", "rds_promote.md")
    with open(out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
