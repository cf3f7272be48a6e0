"""A node simulator in the manner of KWOK: Kubernetes nodes without a kubelet.

It registers N nodes, keeps their Lease and Ready condition fresh, marks pods bound to them
Running and Ready after a delay, can keep chosen deployments' pods from ever becoming Ready, and
finishes the deletion of terminating pods.  It never runs containers and never opens a
connection to anything but the apiserver (pods get addresses from 198.18.0.0/15, the
benchmarking range, and nothing dials them).

    python -m tests.k8s.nodesim --kubeconfig F --context C [--nodes 3] [--pod-start-delay 0]
                                [--hold [NS/]DEPLOYMENT ...] [--ready-file F]

Runtime knobs: ConfigMap kube-system/nodesim-config, watched, applies at once:
    data.podStartDelay  seconds from "bound to a node" to Running+Ready (for pods bound later)
    data.hold           deployments whose pods never become Ready, "name" (any namespace) or
                        "namespace/name", one per line or comma separated.  Pods that are
                        already Ready stay Ready (a bad rollout, not an outage); held pods are
                        Running with Ready=False and become Ready when released.
Deleting the ConfigMap reverts to the command-line values.
"""

from __future__ import annotations

import argparse
import heapq
import ipaddress
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import urllib3
from kubernetes import client, config

CONFIGMAP_NS, CONFIGMAP = "kube-system", "nodesim-config"
LEASE_NS = "kube-node-lease"
LEASE_SECONDS = 40       # as the kubelet: the node controller waits this long without renewals
LEASE_RENEW = 10.0       # kubelet renews every 10 s
STATUS_EVERY = 30.0      # Ready heartbeat; leases alone would keep nodes Ready, but be honest
POD_NET = ipaddress.ip_network("198.18.0.0/15")
NODE_IP = "127.0.0.1"    # `kubectl logs` would dial 127.0.0.1:10250 and be refused: stays local
# On every request: tells the simulator's writes (pod status, leases, nodes: the kubelet's part)
# from a client's in the apiserver's audit log (cluster.NODESIM_USER_AGENT is its prefix).
USER_AGENT = "lomashwood-nodesim/1 (tests/k8s/nodesim.py)"


def now(micro: bool = False) -> str:
    # Always timezone-aware UTC: the apiserver rejects or misreads naive times.
    t = datetime.now(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def log(msg: str) -> None:
    print(f"{datetime.now().strftime('%H:%M:%S.%f')[:-3]} {msg}", flush=True)


class Kube:
    """JSON over the kubernetes client's configuration and connection pool.

    Plain dicts instead of generated models: cheaper, and patches go out exactly as written.
    """

    def __init__(self, kubeconfig: str, context: str | None):
        cfg = client.Configuration()
        config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=cfg)
        cfg.connection_pool_maxsize = 32
        self.host = cfg.host
        self.cfg = cfg
        self.pool = client.ApiClient(cfg).rest_client.pool_manager  # requests go out with _headers()

    def _headers(self, content_type: str = "application/json") -> dict:
        h = {"Accept": "application/json", "Content-Type": content_type, "User-Agent": USER_AGENT}
        auth = self.cfg.auth_settings().get("BearerToken")
        if auth and auth.get("value"):
            h["Authorization"] = auth["value"]
        return h

    def url(self, path: str, params: dict | None = None) -> str:
        return self.host + path + ("?" + urllib.parse.urlencode(params) if params else "")

    def request(self, method: str, path: str, body=None, params=None,
                content_type: str = "application/json", timeout: float = 15) -> tuple[int, dict]:
        r = self.pool.request(method, self.url(path, params), headers=self._headers(content_type),
                              body=json.dumps(body) if body is not None else None,
                              timeout=urllib3.Timeout(connect=5, read=timeout), retries=False)
        try:
            return r.status, json.loads(r.data or b"{}")
        except ValueError:
            return r.status, {"raw": r.data.decode(errors="replace")}

    def watch(self, path: str, params: dict, stop: threading.Event, on_list, on_event) -> None:
        """List, then watch from the list's resourceVersion; relist on 410 Gone or errors."""
        while not stop.is_set():
            try:
                code, lst = self.request("GET", path, params=params)
                if code != 200:
                    raise RuntimeError(f"list {path}: {code} {lst}")
                on_list(lst.get("items", []))
                rv = lst["metadata"]["resourceVersion"]
                while not stop.is_set():
                    w = dict(params, watch="1", resourceVersion=rv, timeoutSeconds="240",
                             allowWatchBookmarks="true")
                    r = self.pool.request("GET", self.url(path, w), headers=self._headers(),
                                          preload_content=False, retries=False,
                                          timeout=urllib3.Timeout(connect=5, read=300))
                    if r.status != 200:
                        raise RuntimeError(f"watch {path}: {r.status}")
                    gone = False
                    for line in r:
                        if stop.is_set():
                            break
                        ev = json.loads(line)
                        obj = ev["object"]
                        if ev["type"] == "ERROR":
                            gone = obj.get("code") == 410
                            break
                        rv = obj["metadata"]["resourceVersion"]
                        if ev["type"] != "BOOKMARK":
                            on_event(ev["type"], obj)
                    r.release_conn()
                    if gone:
                        break  # relist
            except Exception as e:  # noqa: BLE001 - the simulator must outlive API hiccups
                if stop.is_set():
                    return
                log(f"watch {path}: {type(e).__name__}: {e}; relisting in 1 s")
                stop.wait(1)


def _split(text: str) -> set[str]:
    return {h.strip() for h in text.replace(",", "\n").splitlines() if h.strip()}


def deployment_of(pod: dict) -> str | None:
    """The Deployment name behind a pod: its ReplicaSet's name minus the pod-template-hash."""
    h = pod["metadata"].get("labels", {}).get("pod-template-hash")
    for ref in pod["metadata"].get("ownerReferences", []):
        if ref.get("kind") == "ReplicaSet" and h and ref["name"].endswith("-" + h):
            return ref["name"][: -len(h) - 1]
    return None


def is_ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in pod.get("status", {}).get("conditions", []))


class Simulator:
    def __init__(self, kube: Kube, nodes: list[str], region: str | None, delay: float,
                 hold: set[str], cpu: str, memory: str, max_pods: int):
        self.kube, self.nodes, self.region = kube, nodes, region
        self.default_delay, self.default_hold = delay, set(hold)
        self.delay, self.hold = delay, set(hold)
        self.cpu, self.memory, self.max_pods = cpu, memory, max_pods
        self.stop = threading.Event()
        self.lock = threading.Condition()
        # uid -> {"ns", "name", "node", "state": pending|held|done|deleting, "seen", "pod"}
        self.pods: dict[str, dict] = {}
        self.due: list[tuple[float, str]] = []    # heap of (monotonic due time, uid)
        self.ip_next = {n: 0 for n in nodes}
        self.workers = ThreadPoolExecutor(8, thread_name_prefix="patch")
        self.since = now()

    # --- nodes ----------------------------------------------------------------------------------

    def node_status(self) -> dict:
        t = now()
        since = self.since  # conditions have not changed since registration
        cond = [("Ready", "True", "KubeletReady", "kubelet is posting ready status (simulated)"),
                ("MemoryPressure", "False", "KubeletHasSufficientMemory", "simulated"),
                ("DiskPressure", "False", "KubeletHasNoDiskPressure", "simulated"),
                ("PIDPressure", "False", "KubeletHasSufficientPID", "simulated")]
        res = {"cpu": self.cpu, "memory": self.memory, "pods": str(self.max_pods),
               "ephemeral-storage": "100Gi"}
        return {"capacity": res, "allocatable": res,
                "conditions": [{"type": c, "status": s, "reason": r, "message": m,
                                "lastHeartbeatTime": t, "lastTransitionTime": since}
                               for c, s, r, m in cond],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {"machineID": "nodesim", "systemUUID": "nodesim", "bootID": "nodesim",
                             "kernelVersion": "nodesim", "osImage": "nodesim",
                             "containerRuntimeVersion": "nodesim://1", "kubeletVersion": "v1.20.2",
                             "kubeProxyVersion": "v1.20.2", "operatingSystem": "linux",
                             "architecture": "amd64"}}

    def register(self) -> None:
        for i, name in enumerate(self.nodes):
            labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                      "kubernetes.io/arch": "amd64", "type": "nodesim",
                      "node.kubernetes.io/instance-type": "m5.xlarge"}
            if self.region:
                labels["topology.kubernetes.io/region"] = self.region
                labels["topology.kubernetes.io/zone"] = self.region + "abc"[i % 3]
            status = self.node_status()
            status["addresses"] = [{"type": "InternalIP", "address": NODE_IP},
                                   {"type": "Hostname", "address": name}]
            body = {"apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": name, "labels": labels,
                                 "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                                 "lomashwood.io/simulated-by": "nodesim"}},
                    "status": status}
            code, resp = self.kube.request("POST", "/api/v1/nodes", body)
            if code not in (201, 409):
                raise RuntimeError(f"create node {name}: {code} {resp}")
            # Status is set through the status subresource, as a kubelet does.
            self.patch_node_status(name, status)
            self.renew_lease(name)
        log(f"registered nodes {', '.join(self.nodes)}")

    def patch_node_status(self, name: str, status: dict | None = None) -> None:
        code, resp = self.kube.request(
            "PATCH", f"/api/v1/nodes/{name}/status", {"status": status or self.node_status()},
            content_type="application/strategic-merge-patch+json")
        if code != 200:
            log(f"node {name} status: {code} {resp.get('message')}")

    def renew_lease(self, name: str) -> None:
        path = f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NS}/leases/{name}"
        spec = {"holderIdentity": name, "leaseDurationSeconds": LEASE_SECONDS,
                "renewTime": now(micro=True)}
        code, resp = self.kube.request("PATCH", path, {"spec": spec},
                                       content_type="application/merge-patch+json")
        if code == 404:
            code, node = self.kube.request("GET", f"/api/v1/nodes/{name}")
            owner = [{"apiVersion": "v1", "kind": "Node", "name": name,
                      "uid": node["metadata"]["uid"]}] if code == 200 else []
            code, resp = self.kube.request(
                "POST", f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NS}/leases",
                {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": name, "ownerReferences": owner}, "spec": spec})
        if code not in (200, 201):
            log(f"lease {name}: {code} {resp.get('message')}")

    def heartbeat_loop(self) -> None:
        last_status = time.monotonic()
        while not self.stop.wait(LEASE_RENEW):
            try:
                for name in self.nodes:
                    self.renew_lease(name)
                if time.monotonic() - last_status >= STATUS_EVERY - 1:
                    last_status = time.monotonic()
                    for name in self.nodes:
                        self.patch_node_status(name)
            except Exception as e:  # noqa: BLE001 - keep beating through apiserver hiccups
                log(f"heartbeat: {type(e).__name__}: {e}")

    def wait_nodes_schedulable(self, timeout: float = 60) -> None:
        """Ready, and the admission-time not-ready taint removed by the node controller."""
        deadline = time.monotonic() + timeout
        pending = set(self.nodes)
        while pending:
            for name in sorted(pending):
                code, node = self.kube.request("GET", f"/api/v1/nodes/{name}")
                if code != 200:
                    continue
                taints = [t["key"] for t in node.get("spec", {}).get("taints", [])]
                ready = any(c["type"] == "Ready" and c["status"] == "True"
                            for c in node["status"].get("conditions", []))
                if ready and not any(k.startswith("node.kubernetes.io/") for k in taints):
                    pending.discard(name)
            if pending:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nodes still tainted or not Ready: {sorted(pending)}")
                time.sleep(0.2)

    # --- knobs ---------------------------------------------------------------------------------

    def on_config(self, kind: str, cm: dict) -> None:
        if cm["metadata"]["name"] != CONFIGMAP:
            return
        data = {} if kind == "DELETED" else (cm.get("data") or {})
        try:
            delay = float(data.get("podStartDelay", self.default_delay))
        except ValueError:
            log(f"ignoring bad podStartDelay {data.get('podStartDelay')!r}")
            delay = self.delay
        hold = _split(data["hold"]) if "hold" in data else set(self.default_hold)
        with self.lock:
            changed = (delay, hold) != (self.delay, self.hold)
            self.delay, self.hold = delay, hold
            # Released pods become Ready now; newly held ones are checked when they come due.
            for uid, p in self.pods.items():
                if p["state"] == "held" and not self.is_held(p["pod"]):
                    p["state"] = "pending"
                    heapq.heappush(self.due, (0.0, uid))
            self.lock.notify()
        if changed:
            log(f"knobs: podStartDelay={delay} hold={sorted(hold)}")

    def on_config_list(self, items: list[dict]) -> None:
        if not items:
            self.on_config("DELETED", {"metadata": {"name": CONFIGMAP}})
        for cm in items:
            self.on_config("ADDED", cm)

    def is_held(self, pod: dict) -> bool:
        dep = deployment_of(pod)
        return dep is not None and (dep in self.hold or f"{pod['metadata']['namespace']}/{dep}"
                                    in self.hold)

    # --- pods -------------------------------------------------------------------------------------

    def on_pod_list(self, items: list[dict]) -> None:
        uids = {p["metadata"]["uid"] for p in items}
        with self.lock:
            for uid in list(self.pods):
                if uid not in uids:
                    del self.pods[uid]
        for pod in items:
            self.on_pod("ADDED", pod)

    def on_pod(self, kind: str, pod: dict) -> None:
        node = pod.get("spec", {}).get("nodeName")
        if node not in self.ip_next:
            return
        meta = pod["metadata"]
        uid = meta["uid"]
        with self.lock:
            if kind == "DELETED":
                self.pods.pop(uid, None)
                return
            p = self.pods.get(uid)
            if p is None:
                p = self.pods[uid] = {"ns": meta["namespace"], "name": meta["name"], "node": node,
                                      "state": "new", "seen": time.monotonic(), "pod": pod}
            p["pod"] = pod
            if meta.get("deletionTimestamp"):
                # No kubelet will ever confirm the containers stopped: finish the deletion.
                if p["state"] != "deleting":
                    p["state"] = "deleting"
                    self.workers.submit(self.delete_pod, p["ns"], p["name"], uid)
                return
            if pod.get("status", {}).get("phase") in ("Succeeded", "Failed") or is_ready(pod):
                p["state"] = "done"
                return
            if p["state"] == "new":
                p["state"] = "pending"
                heapq.heappush(self.due, (p["seen"] + self.delay, uid))
                self.lock.notify()

    def dispatch_loop(self) -> None:
        """Hand pods to the patch workers when their start delay is over."""
        with self.lock:
            while not self.stop.is_set():
                if not self.due:
                    self.lock.wait(1)
                    continue
                at, uid = self.due[0]
                wait = at - time.monotonic()
                if wait > 0:
                    self.lock.wait(min(wait, 1))
                    continue
                heapq.heappop(self.due)
                p = self.pods.get(uid)
                if not p or p["state"] != "pending":
                    continue
                held = self.is_held(p["pod"])
                p["state"] = "held" if held else "starting"
                self.workers.submit(self.start_pod, uid, p["pod"], not held)

    def pod_ip(self, node: str) -> str:
        # A /20 of the benchmarking range per node; addresses are only labels here.
        idx = self.nodes.index(node)
        with self.lock:
            n = self.ip_next[node] = self.ip_next[node] % 4094 + 1
        return str(POD_NET.network_address + idx * 4096 + n)

    def start_pod(self, uid: str, pod: dict, ready: bool) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        t = now()
        st = "True" if ready else "False"
        ip = pod.get("status", {}).get("podIP") or self.pod_ip(spec["nodeName"])
        started = pod.get("status", {}).get("startTime") or t
        containers = [{
            "name": c["name"], "image": c.get("image", ""), "imageID": "nodesim://" + c.get("image", ""),
            "containerID": f"nodesim://{uid}/{c['name']}", "ready": ready, "started": True,
            "restartCount": 0, "state": {"running": {"startedAt": started}}}
            for c in spec.get("containers", [])]
        cond = [{"type": "Initialized", "status": "True", "lastTransitionTime": started},
                {"type": "Ready", "status": st, "lastTransitionTime": t},
                {"type": "ContainersReady", "status": st, "lastTransitionTime": t},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": started}]
        if not ready:
            for c in cond[1:3]:
                c.update(reason="ContainersNotReady", message="held by nodesim (never Ready)")
        body = {"metadata": {"uid": uid},  # precondition: never patch a namesake pod
                "status": {"phase": "Running", "hostIP": NODE_IP, "podIP": ip,
                           "podIPs": [{"ip": ip}], "startTime": started, "conditions": cond,
                           "containerStatuses": containers}}
        try:
            code, resp = self.kube.request(
                "PATCH", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status",
                body, content_type="application/strategic-merge-patch+json")
        except Exception as e:  # noqa: BLE001
            code, resp = 0, {"message": f"{type(e).__name__}: {e}"}
        with self.lock:
            p = self.pods.get(uid)
            if code == 200:
                if p and ready:
                    p["state"] = "done"
                log(f"pod {meta['namespace']}/{meta['name']} Running, "
                    f"{'Ready' if ready else 'held not Ready'}")
            elif code in (404, 409, 422):
                self.pods.pop(uid, None)  # gone or replaced meanwhile
            elif p:
                log(f"pod {meta['namespace']}/{meta['name']}: {code} {resp.get('message')}; retrying")
                p["state"] = "pending"
                heapq.heappush(self.due, (time.monotonic() + 1, uid))
                self.lock.notify()

    def delete_pod(self, ns: str, name: str, uid: str) -> None:
        try:
            code, resp = self.kube.request(
                "DELETE", f"/api/v1/namespaces/{ns}/pods/{name}",
                {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                 "preconditions": {"uid": uid}})
        except Exception as e:  # noqa: BLE001
            code, resp = 0, {"message": f"{type(e).__name__}: {e}"}
        if code not in (200, 202, 404, 409):
            log(f"delete pod {ns}/{name}: {code} {resp.get('message')}")
            with self.lock:
                if uid in self.pods:
                    self.pods[uid]["state"] = "new"  # retried on the next event or relist

    # --- run --------------------------------------------------------------------------------------

    def run(self, ready_file: str | None) -> None:
        t0 = time.monotonic()
        threads = [
            (self.kube.watch, ("/api/v1/pods", {}, self.stop, self.on_pod_list, self.on_pod)),
            (self.kube.watch, (f"/api/v1/namespaces/{CONFIGMAP_NS}/configmaps",
                               {"fieldSelector": f"metadata.name={CONFIGMAP}"}, self.stop,
                               self.on_config_list, self.on_config)),
            (self.dispatch_loop, ()),
            (self.heartbeat_loop, ()),
        ]
        self.register()
        for fn, args in threads:
            threading.Thread(target=fn, args=args, daemon=True).start()
        self.wait_nodes_schedulable()
        log(f"ready: {len(self.nodes)} nodes Ready and untainted in {time.monotonic() - t0:.1f} s")
        if ready_file:
            with open(ready_file, "w") as f:
                json.dump({"nodes": self.nodes, "seconds": round(time.monotonic() - t0, 2)}, f)
        # Wake up now and then: a signal delivered to another thread is only handled when the
        # main thread runs Python code, and a bare wait() may block forever.
        while not self.stop.wait(0.5):
            pass


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.k8s.nodesim", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--context")
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--node-prefix", default="nodesim")
    ap.add_argument("--region", help="sets topology.kubernetes.io/region and zone labels")
    ap.add_argument("--pod-start-delay", type=float, default=0.0)
    ap.add_argument("--hold", action="append", default=[], metavar="[NS/]DEPLOYMENT")
    ap.add_argument("--cpu", default="8")
    ap.add_argument("--memory", default="32Gi")
    ap.add_argument("--max-pods", type=int, default=110)
    ap.add_argument("--ready-file", help="written once the nodes are Ready and untainted")
    a = ap.parse_args(argv)

    sim = Simulator(Kube(a.kubeconfig, a.context), [f"{a.node_prefix}-{i}" for i in range(a.nodes)],
                    a.region, a.pod_start_delay, _split(",".join(a.hold)), a.cpu, a.memory,
                    a.max_pods)

    def on_term(*_):
        sim.stop.set()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    sim.run(a.ready_file)
    log("stopped")
    # Do not wait for patch workers stuck on a vanished apiserver.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
