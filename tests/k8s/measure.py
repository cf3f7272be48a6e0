"""Smoke check and figures for the embedded Kubernetes environment (run inside `unshare -n`).

    unshare -n sh -c 'ip link set lo up && .venv/bin/python -m tests.k8s.measure --run-dir /tmp/lwm'

Starts both regions, then in each: a namespace and a 3-replica deployment; in eu-west-2 the nine
production deployments 0 -> 3 with 0 s and 2 s pod start delay, rollout restart, a held
(never-Ready) deployment, scale to 0; then stops and checks no process is left.  Prints a
Markdown table of the figures.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from pathlib import Path

from tests.k8s import cluster

SERVICES = ["auth-service", "product-service", "customer-service", "content-service",
            "notification-service", "order-payment-service", "appointment-service",
            "analytics-service", "api-gateway"]
NS = "lomash-wood"


def rss_mb(pid: int) -> float:
    """RSS of a process and its descendants."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for t in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (t / "children").read_text().split()]
        except OSError:
            pass
    return total / 1024


def deployment(name: str, replicas: int) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "progressDeadlineSeconds": 600,
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app",
                                                           "image": f"lomashwood/{name}:1"}]}}}}


class Region:
    def __init__(self, info: dict, region: str):
        r = info["regions"][region]
        self.name = region
        self.api = cluster._Api(r["server"], r["ca_file"], r["token"])

    def req(self, method, path, body=None, ct="application/json", ok=(200, 201)):
        code, resp = self.api.request(method, path, body, ct)
        if code not in ok:
            raise RuntimeError(f"{self.name} {method} {path}: {code} {resp}")
        return resp

    def ensure_ns(self, ns: str) -> None:
        self.req("POST", "/api/v1/namespaces", {"metadata": {"name": ns}}, ok=(201, 409))

    def create(self, ns: str, names: list[str], replicas: int) -> None:
        for n in names:
            self.req("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", deployment(n, replicas))

    def patch(self, ns: str, names: list[str], body: dict) -> None:
        for n in names:
            self.req("PATCH", f"/apis/apps/v1/namespaces/{ns}/deployments/{n}", body,
                     "application/strategic-merge-patch+json")

    def scale(self, ns, names, replicas):
        self.patch(ns, names, {"spec": {"replicas": replicas}})

    def restart(self, ns, names):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + str(time.monotonic_ns())
        self.patch(ns, names, {"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": stamp}}}}})

    def complete(self, ns: str, names: list[str]) -> dict[str, bool]:
        """Per deployment: rolled out as `kubectl rollout status` means it."""
        items = self.req("GET", f"/apis/apps/v1/namespaces/{ns}/deployments")["items"]
        out = {}
        for d in items:
            if d["metadata"]["name"] not in names:
                continue
            s, want = d.get("status", {}), d["spec"]["replicas"]
            out[d["metadata"]["name"]] = (
                s.get("observedGeneration", 0) >= d["metadata"]["generation"]
                and s.get("updatedReplicas", 0) == want and s.get("replicas", 0) == want
                and s.get("availableReplicas", 0) == want)
        return out

    def wait(self, ns, names, timeout=120.0) -> float:
        t0 = time.monotonic()
        while not all(self.complete(ns, names).get(n) for n in names):
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"{self.name}: not complete after {timeout} s: "
                                   f"{self.complete(ns, names)}")
            time.sleep(0.02)
        return time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-dir", default="/tmp/lwm")
    a = ap.parse_args()
    figures: list[tuple[str, str]] = []

    def fig(name, value):
        figures.append((name, value))
        print(f"== {name}: {value}", flush=True)

    t0 = time.monotonic()
    info = cluster.start(a.run_dir)
    procs_all = cluster._all_procs(info)
    fig("start both regions (etcd, apiserver, controller-manager, scheduler, 3 sim nodes each)",
        f"{time.monotonic() - t0:.1f} s")
    try:
        for region in cluster.REGIONS:
            procs = info["regions"][region]["processes"]
            cp = sum(rss_mb(p["pid"]) for n, p in procs.items() if n != "nodesim")
            fig(f"RSS control plane {region} (idle)", f"{cp:.0f} MB")
            fig(f"RSS nodesim {region}", f"{rss_mb(procs['nodesim']['pid']):.0f} MB")

        # Smoke: one deployment per region.
        regions = {r: Region(info, r) for r in cluster.REGIONS}
        for r in regions.values():
            r.ensure_ns("smoke")
            r.create("smoke", ["web"], 3)
        for r in regions.values():
            fig(f"smoke: 1 deployment x3 Ready in {r.name}", f"{r.wait('smoke', ['web']):.2f} s")

        w = regions["eu-west-2"]
        w.ensure_ns(NS)
        w.create(NS, SERVICES, 0)
        w.wait(NS, SERVICES)
        for delay in (0.0, 2.0):
            cluster.set_knobs(a.run_dir, "eu-west-2", pod_start_delay=delay)
            time.sleep(0.3)  # let the simulator see the ConfigMap change
            t = time.monotonic()
            w.scale(NS, SERVICES, 3)  # 9 PATCH calls, counted in the figure
            w.wait(NS, SERVICES)
            fig(f"9 deployments 0 -> 3 ready, pod start delay {delay:g} s",
                f"{time.monotonic() - t:.2f} s")
            t = time.monotonic()
            w.restart(NS, SERVICES)
            w.wait(NS, SERVICES)
            fig(f"rollout restart of 9, pod start delay {delay:g} s", f"{time.monotonic() - t:.2f} s")
            t = time.monotonic()
            w.scale(NS, SERVICES, 0)
            w.wait(NS, SERVICES)
            fig(f"9 deployments 3 -> 0, pod start delay {delay:g} s", f"{time.monotonic() - t:.2f} s")
        cluster.set_knobs(a.run_dir, "eu-west-2", pod_start_delay=0)

        procs = info["regions"]["eu-west-2"]["processes"]
        cp = sum(rss_mb(p["pid"]) for n, p in procs.items() if n != "nodesim")
        fig("RSS control plane eu-west-2 (after the runs)", f"{cp:.0f} MB")

        # Never-ready hold: a held deployment's new pods stay Running but not Ready.
        cluster.set_knobs(a.run_dir, "eu-west-2", hold=[f"{NS}/api-gateway"])
        time.sleep(0.3)
        w.scale(NS, ["api-gateway", "auth-service"], 3)
        w.wait(NS, ["auth-service"])
        time.sleep(3)
        gw = w.req("GET", f"/apis/apps/v1/namespaces/{NS}/deployments/api-gateway")["status"]
        held_ok = gw.get("availableReplicas", 0) == 0 and gw.get("replicas") == 3
        fig("hold: api-gateway 3 pods, 0 available after 3 s (auth-service complete)",
            f"{'ok' if held_ok else 'FAILED'} {gw.get('replicas')}/{gw.get('availableReplicas', 0)}")
        t = time.monotonic()
        cluster.set_knobs(a.run_dir, "eu-west-2", hold=[])
        w.wait(NS, ["api-gateway"])
        fig("release hold -> api-gateway complete", f"{time.monotonic() - t:.2f} s")

        # kubectl 1.20 from Debian, when build.sh extracted it.
        kubectl = cluster.bin_dir() / "kubectl"
        if kubectl.exists():
            t = time.monotonic()
            out = subprocess.run([str(kubectl), "--kubeconfig", info["kubeconfig"], "--context",
                                  "lomash-wood-eu-west-2", "-n", NS, "rollout", "status",
                                  "deployment/api-gateway", "--timeout=20s"],
                                 capture_output=True, text=True)
            fig("kubectl rollout status", f"rc={out.returncode} {out.stdout.strip()[-60:]}")
    finally:
        t = time.monotonic()
        cluster.stop(a.run_dir)
        fig("stop", f"{time.monotonic() - t:.2f} s")
    # Living processes of ours (a zombie awaiting its reaper does not count), and any process
    # whose command line names our run dir (other people's clusters may be running).
    left = [p for p in procs_all if cluster._alive(p)]
    ps = subprocess.run(["ps", "-eo", "pid,stat,args"], capture_output=True, text=True).stdout
    stray = [ln for ln in ps.splitlines()
             if a.run_dir in ln and " Z" not in ln and int(ln.split()[0]) != os.getpid()]
    fig("processes left after stop", f"{len(left)} (ps matches: {len(stray)})")
    for ln in stray:
        print("  left:", ln)
    cluster.stop(a.run_dir)  # a second stop is a no-op

    print("\n| measurement | figure |\n|---|---|")
    for n, v in figures:
        print(f"| {n} | {v} |")
    return 0 if not left and not stray and held_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
