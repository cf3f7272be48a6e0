"""Benchmark (not a test): eks_scale_services against a kubernetes.core.k8s_scale loop.

    scripts/in-netns.sh scripts/with-world.sh --k8s --seed -- .venv/bin/python bench/bench_eks_scale.py [--repeat 3]

On the embedded eu-west-2 control plane (tests/k8s: real kube-apiserver, controller-manager and
scheduler, simulated nodes), in namespace lomash-wood:

1. each of the nine deployments alone 0 -> 3 (raw API with a 20 ms poll, and through the module):
   the slowest single rollout is the yardstick, the target being 9 at once <= 1.25 x that; and the
   nine at once through the raw API, the control plane's own floor for the batch;
2. the nine 0 -> 3 at once with eks_scale_services (poll 0.1 s, and the default 1 s);
3. the same with a loop of kubernetes.core.k8s_scale (wait: true, wait_sleep: 1, its minimum);
   API requests on deployments are counted on the API server (/metrics, JSON clients only, so the
   controllers' own protobuf traffic is left out);
4. list calls per poll interval for 9 and for 100 deployments (100 throwaway ones in a scratch
   namespace, deleted afterwards);
5. the nine 0 -> 3 with a 2 s pod start delay in the node simulator (target: 1.25 x 2 s + the
   control plane's own latency, i.e. the slowest single rollout without delay);
6. the control planes' start time (this run) and memory now; build figures cited from tests/k8s/README.md.

Prints a Markdown table and writes bench/results/eks_scale.md.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "collections"))

from kubernetes import client, config  # noqa: E402

from tests.integration.runner import module_command, ansible_env, run_module, run_playbook  # noqa: E402
from tests.k8s import cluster  # noqa: E402
from tests.k8s.seed import DEPLOYMENTS as NINE, NAMESPACE as NS, deployment_manifest  # noqa: E402

REGION = "eu-west-2"
CONTEXT = "lomash-wood-eu-west-2"
SCRATCH_NS = "bench-scale"
RESULTS = os.path.join(ROOT, "bench", "results", "eks_scale.md")


class Plane:
    """The eu-west-2 control plane, through the kubernetes client and its /metrics."""

    def __init__(self, kubeconfig):
        self.kubeconfig = kubeconfig
        self.run_dir = os.path.dirname(kubeconfig)
        with open(os.path.join(self.run_dir, "cluster.json"), encoding="utf-8") as handle:
            self.info = json.load(handle)
        cfg = client.Configuration()
        config.load_kube_config(kubeconfig, context=CONTEXT, client_configuration=cfg, persist_config=False)
        api = client.ApiClient(cfg)
        self.apps, self.core = client.AppsV1Api(api), client.CoreV1Api(api)
        region = self.info["regions"][REGION]
        self._metrics_req = urllib.request.Request(region["server"] + "/metrics",
                                                   headers={"Authorization": "Bearer " + region["token"]})
        self._ssl = ssl.create_default_context(cafile=region["ca_file"])

    def state(self, namespace=NS):
        out = {}
        for d in self.apps.list_namespaced_deployment(namespace).items:
            s, want = d.status, d.spec.replicas
            out[d.metadata.name] = ((s.observed_generation or 0) >= d.metadata.generation
                                    and (s.replicas or 0) == (s.updated_replicas or 0) == (s.ready_replicas or 0)
                                    == (s.available_replicas or 0) == want, want)
        return out

    def wait(self, names, replicas, namespace=NS, timeout=120, interval=0.02):
        t0 = time.monotonic()
        while True:
            st = self.state(namespace)
            if all(st.get(n, (False, None)) == (True, replicas) for n in names):
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise RuntimeError("not rolled out after %s s: %s" % (timeout, st))
            time.sleep(interval)

    def scale(self, names, replicas, namespace=NS):
        for n in names:
            self.apps.patch_namespaced_deployment_scale(n, namespace, {"spec": {"replicas": replicas}})

    def reset(self, names=NINE, namespace=NS):
        self.scale(names, 0, namespace)
        self.wait(names, 0, namespace)

    def knobs(self, pod_start_delay):
        cluster.set_knobs(self.run_dir, REGION, pod_start_delay=pod_start_delay, hold=[])

    def deployment_requests(self):
        """API server request counts on deployments by JSON clients: {(verb, subresource): n}."""
        text = urllib.request.urlopen(self._metrics_req, context=self._ssl, timeout=10).read().decode()
        counts = Counter()
        for line in text.splitlines():
            if not line.startswith("apiserver_request_total{") or 'resource="deployments"' not in line:
                continue
            if 'contentType="application/json"' not in line:
                continue
            labels = dict(kv.split("=", 1) for kv in line[line.index("{") + 1:line.index("}")].split(","))
            key = (labels["verb"].strip('"'), labels["subresource"].strip('"') or "-")
            counts[key] += int(float(line.rsplit(" ", 1)[1]))
        return counts

    def rss_mb(self, region):
        total = 0.0
        for name, proc in self.info["regions"][region]["processes"].items():
            if name == "nodesim":
                continue
            total += _rss_kb(proc["pid"]) / 1024
        return total

    def nodesim_rss_mb(self, region):
        return _rss_kb(self.info["regions"][region]["processes"]["nodesim"]["pid"]) / 1024


def _rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def delta(after, before):
    return {"%s %s" % k: after[k] - before.get(k, 0) for k in sorted(after) if after[k] - before.get(k, 0)}


def timed(func, *args, **kwargs):
    t0 = time.monotonic()
    out = func(*args, **kwargs)
    return out, time.monotonic() - t0


def ours(plane, services, replicas=3, namespace=NS, **extra):
    """Run our module through the ansible CLI; (result, wall seconds, API server request delta)."""
    args = dict(kubeconfig=plane.kubeconfig, context=CONTEXT, namespace=namespace, services=services,
                replicas=replicas, wait_timeout=300)
    args.update(extra)
    before = plane.deployment_requests()
    res, wall = timed(run_module, "eks_scale_services", args, timeout=600)
    if res.get("failed"):
        raise RuntimeError(res.get("msg"))
    return res, wall, delta(plane.deployment_requests(), before)


PEER_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: kubernetes.core.k8s_scale, one deployment after the other
      kubernetes.core.k8s_scale:
        kubeconfig: {kubeconfig}
        context: {context}
        api_version: apps/v1
        kind: Deployment
        namespace: {namespace}
        name: "{{{{ item }}}}"
        replicas: 3
        wait: true
        wait_sleep: 1
        wait_timeout: 300
      loop: {names}
"""

BASELINE_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: nothing
      ansible.builtin.ping:
"""


def playbook(text, plane):
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        handle.write(text)
    try:
        before = plane.deployment_requests()
        proc, wall = timed(run_playbook, handle.name, inventory="localhost,", extra_vars={"ansible_connection": "local"})
        if proc.returncode != 0:
            raise RuntimeError(proc.stdout[-3000:] + proc.stderr[-3000:])
        return wall, delta(plane.deployment_requests(), before)
    finally:
        os.unlink(handle.name)


def adhoc_baseline():
    cmd = module_command("ansible.builtin.ping", {"data": "pong"})
    _, wall = timed(subprocess.run, cmd, cwd=ROOT, env=ansible_env(), capture_output=True, check=True)
    return wall


def med(values):
    return statistics.median(values)


def rng(values, fmt="%.2f"):
    values = sorted(values)
    if len(values) == 1:
        return fmt % values[0]
    return (fmt + " (%s–%s)") % (med(values), fmt % values[0], fmt % values[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each headline measurement (median reported)")
    ap.add_argument("--many", type=int, default=100, help="deployments in the scratch namespace")
    ap.add_argument("--out", default=RESULTS)
    args = ap.parse_args()
    kubeconfig = os.environ.get("KUBECONFIG")
    if not kubeconfig or not os.path.exists(os.path.join(os.path.dirname(kubeconfig), "cluster.json")):
        sys.exit("run me inside scripts/in-netns.sh scripts/with-world.sh --k8s --seed -- ...")
    plane = Plane(kubeconfig)
    rows, notes = [], []

    def row(what, value, note=""):
        rows.append((what, value, note))
        print("%-70s %s %s" % (what, value, note), flush=True)

    plane.knobs(0)
    plane.reset()

    # 0. Fixed costs of the ansible CLI (process start, collection loading), to read walls against.
    base_adhoc = med([adhoc_baseline() for _ in range(2)])
    base_play = med([playbook(BASELINE_PLAY, plane)[0] for _ in range(2)])
    row("ansible CLI fixed cost: ad-hoc `ansible -m ping` / one-task playbook", "%.2f s / %.2f s" % (base_adhoc, base_play))

    # 1. Single deployments, raw API (20 ms poll) and through the module.
    raw_single, mod_single = {}, {}
    for name in NINE:
        plane.scale([name], 3)
        raw_single[name] = plane.wait([name], 3)
        plane.reset([name])
    for name in NINE:
        res, _wall, _ = ours(plane, [name], poll_interval=0.1)
        mod_single[name] = res["elapsed_seconds"]
        plane.reset([name])
    raw_nine = []
    for _ in range(args.repeat):
        t0 = time.monotonic()
        plane.scale(NINE, 3)
        plane.wait(NINE, 3)
        raw_nine.append(time.monotonic() - t0)
        plane.reset()
    slowest_raw = max(raw_single.values())
    slowest_mod = max(mod_single.values())
    row("single deployment 0 -> 3, raw API + 20 ms poll: slowest of 9", "%.2f s" % slowest_raw,
        "(%s: median %.2f s)" % (max(raw_single, key=raw_single.get), med(raw_single.values())))
    row("single deployment 0 -> 3, eks_scale_services (poll 0.1 s): slowest of 9", "%.2f s" % slowest_mod,
        "module elapsed_seconds")
    row("9 deployments 0 -> 3 at once, raw API (9 PATCHes in a row) + 20 ms poll: the control plane's floor",
        rng(raw_nine) + " s", "ratio to slowest single: %.2f" % (med(raw_nine) / slowest_raw))

    # 2. The nine at once, our module.
    nine_elapsed, nine_wall, nine_lists, nine_server = [], [], [], None
    for _ in range(args.repeat):
        res, wall, server = ours(plane, NINE, poll_interval=0.1)
        nine_elapsed.append(res["elapsed_seconds"])
        nine_wall.append(wall)
        nine_lists.append(res["api_calls"]["list_namespaced_deployment"])
        seconds = [r["seconds"] for r in res["results"]]
        nine_server = server
        calls = res["api_calls"]
        plane.reset()
    row("9 deployments 0 -> 3, eks_scale_services poll 0.1 s: module elapsed", rng(nine_elapsed) + " s",
        "ratio to slowest single: %.2f (target <= 1.25); to the raw 9-at-once floor: %.2f"
        % (med(nine_elapsed) / slowest_mod, med(nine_elapsed) / med(raw_nine)))
    row("  per deployment, seconds from the module's start to rolled out (last run)",
        "%.2f–%.2f s" % (min(seconds), max(seconds)))
    row("  same, wall of the `ansible` process", rng(nine_wall) + " s",
        "(%.2f s of it is the CLI's fixed cost)" % base_adhoc)
    row("  its API calls (module count, last run)", json.dumps(calls, sort_keys=True))
    row("  API server requests on deployments (last run)", json.dumps(nine_server, sort_keys=True))
    res, wall, _ = ours(plane, NINE)  # the default poll interval
    plane.reset()
    row("9 deployments 0 -> 3, eks_scale_services default poll (1 s): elapsed / wall", "%.2f s / %.2f s" % (res["elapsed_seconds"], wall))

    # 3. The peer: a loop of kubernetes.core.k8s_scale.
    peer_walls = []
    for _ in range(max(1, args.repeat - 1)):
        wall, peer_server = playbook(PEER_PLAY.format(kubeconfig=kubeconfig, context=CONTEXT, namespace=NS,
                                                      names=json.dumps(NINE)), plane)
        peer_walls.append(wall)
        plane.reset()
    row("9 deployments 0 -> 3, kubernetes.core.k8s_scale loop (wait_sleep 1): playbook wall", rng(peer_walls) + " s",
        "minus the playbook fixed cost: %.2f s" % (med(peer_walls) - base_play))
    row("  API server requests on deployments (last run)", json.dumps(peer_server, sort_keys=True))
    row("speed-up, work time (wall minus CLI fixed cost): k8s_scale loop / eks_scale_services",
        "%.1fx" % ((med(peer_walls) - base_play) / max(0.01, med(nine_wall) - base_adhoc)))

    # 4. List calls per poll interval: 9 and many deployments.
    polls9 = med(nine_lists) - 1  # the first list observes; every poll after is one list
    row("list calls per poll, 9 deployments", "1 (%d lists = 1 observe + %d polls)" % (med(nine_lists), polls9))
    plane.core.create_namespace({"metadata": {"name": SCRATCH_NS}})
    try:
        names = ["bench-%03d" % i for i in range(args.many)]
        for n in names:
            manifest = deployment_manifest(n, 0)
            manifest["metadata"]["namespace"] = SCRATCH_NS
            manifest["spec"]["template"]["spec"]["containers"][0].pop("envFrom", None)
            plane.apps.create_namespaced_deployment(SCRATCH_NS, manifest)
        plane.wait(names, 0, SCRATCH_NS)
        res, wall, server = ours(plane, names, replicas=1, namespace=SCRATCH_NS, poll_interval=0.5)
        lists = res["api_calls"]["list_namespaced_deployment"]
        t_list = timed(plane.apps.list_namespaced_deployment, SCRATCH_NS)[1]
        row("list calls per poll, %d deployments (poll 0.5 s)" % args.many,
            "1 (%d lists = 1 observe + %d polls in %.2f s)" % (lists, lists - 1, res["elapsed_seconds"]),
            "one list of %d takes %.0f ms" % (args.many, t_list * 1000))
        row("  its API calls", json.dumps(res["api_calls"], sort_keys=True))
        row("  API server requests on deployments", json.dumps(server, sort_keys=True))
        notes.append("A k8s_scale loop makes about one GET per deployment per wait_sleep while it waits, one deployment "
                     "at a time; for %d deployments that is %d sequential waits." % (args.many, args.many))
    finally:
        plane.core.delete_namespace(SCRATCH_NS)

    # 5. With a 2 s pod start delay.
    plane.knobs(2)
    try:
        plane.scale(["auth-service"], 3)
        raw_delay = plane.wait(["auth-service"], 3)
        plane.reset(["auth-service"])
        res_single, _, _ = ours(plane, ["auth-service"], poll_interval=0.1)
        plane.reset(["auth-service"])
        raw_delayed = []
        for _ in range(args.repeat):
            t0 = time.monotonic()
            plane.scale(NINE, 3)
            plane.wait(NINE, 3)
            raw_delayed.append(time.monotonic() - t0)
            plane.reset()
        delayed = []
        for _ in range(args.repeat):
            res, wall, _ = ours(plane, NINE, poll_interval=0.1)
            delayed.append(res["elapsed_seconds"])
            plane.reset()
    finally:
        plane.knobs(0)
    target = 1.25 * 2 + slowest_mod
    row("pod start delay 2 s: single deployment 0 -> 3, raw API / module", "%.2f s / %.2f s" % (raw_delay, res_single["elapsed_seconds"]))
    row("pod start delay 2 s: 9 deployments 0 -> 3 at once, raw API + 20 ms poll (the floor)", rng(raw_delayed) + " s")
    row("pod start delay 2 s: 9 deployments 0 -> 3, module elapsed", rng(delayed) + " s",
        "target <= 1.25 x 2 s + %.2f s (slowest single without delay) = %.2f s" % (slowest_mod, target))

    # 6. The control planes.
    row("control planes started (both regions, this run, cached binaries)", "%.1f s" % plane.info["started_seconds"])
    row("RSS now, etcd + apiserver + controller-manager + scheduler", "eu-west-1 %.0f MB, eu-west-2 %.0f MB"
        % (plane.rss_mb("eu-west-1"), plane.rss_mb("eu-west-2")),
        "node simulators %.0f / %.0f MB" % (plane.nodesim_rss_mb("eu-west-1"), plane.nodesim_rss_mb("eu-west-2")))
    row("cold build (tests/k8s/README.md)", "766 s under load; 6–8 min idle", "cached build.sh: 0.02 s")
    row("control plane start, RSS (tests/k8s/README.md)", "13.7–16.3 s both; ≈ 500 MB each idle")

    write(args.out, rows, notes, args)


def write(path, rows, notes, args):
    load = os.getloadavg()
    lines = [
        "# eks_scale_services benchmark",
        "",
        "`scripts/in-netns.sh scripts/with-world.sh --k8s --seed -- .venv/bin/python bench/bench_eks_scale.py"
        " --repeat %d --many %d`" % (args.repeat, args.many),
        "",
        "Run %s on %d CPUs, load average %.1f / %.1f / %.1f (other work shares the machine). Kubernetes 1.20 control"
        " planes built from Debian's source (tests/k8s), simulated nodes, namespace `lomash-wood` in"
        " `lomash-wood-eu-west-2`. Median (min–max) of the runs where several." % (
            time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), *load),
        "",
        "| measurement | figure | note |",
        "|---|---|---|",
    ]
    lines += ["| %s | %s | %s |" % (w, v.replace("|", "/"), n) for w, v, n in rows]
    lines += [""] + ["- " + n for n in notes] + [
        "- *elapsed* is the module's own `elapsed_seconds` (from its start to the last deployment rolled out: options,"
        " connection, one list, the writes, the shared polls); *wall* adds the ansible CLI's own start-up.",
        "- API server requests are read from kube-apiserver `/metrics` (`apiserver_request_total`, deployments,"
        " JSON clients only: the controllers speak protobuf), before and after each run.",
        "",
    ]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
