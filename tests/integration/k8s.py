"""Helpers for integration tests against the embedded Kubernetes control planes (tests/k8s).

`K8s` is what the `k8s` fixture (conftest.py) gives a test: the run dir and kubeconfig of the two
control planes, kubernetes clients per region, snapshots of deployments and pods to compare a
cluster before and after, node simulator knobs, a reset to the seeded world, and the clients'
writes to both apiservers since the last reset (`calls()`, from their audit logs; with
runner.mutating: `assert mutating(world.calls(), k8s.calls()) == {}`).
"""

from __future__ import annotations

import json
import os
import socket
import time

import yaml
from kubernetes import client, config

from tests.k8s import cluster
from tests.k8s import seed as k8s_seed

NS = k8s_seed.NAMESPACE
NINE = list(k8s_seed.DEPLOYMENTS)
STANDBY, PRIMARY = "eu-west-2", "eu-west-1"


class K8s:
    def __init__(self, run_dir, kubeconfig, world_info):
        self.run_dir, self.kubeconfig, self.world_info = run_dir, kubeconfig, world_info
        self._apis = {}
        self.reset_calls()

    @staticmethod
    def context(region=STANDBY):
        return k8s_seed.CONTEXTS[region]

    def info(self):
        with open(os.path.join(self.run_dir, "cluster.json"), encoding="utf-8") as handle:
            return json.load(handle)

    def api(self, region=STANDBY):
        if region not in self._apis:
            cfg = client.Configuration()
            config.load_kube_config(self.kubeconfig, context=self.context(region), client_configuration=cfg,
                                    persist_config=False)
            api = client.ApiClient(cfg)
            self._apis[region] = (client.AppsV1Api(api), client.CoreV1Api(api))
        return self._apis[region]

    # --- observe ---

    def deployments(self, region=STANDBY, namespace=NS):
        """{name: {"replicas", "resource_version", "generation", "ready", "available", "updated", "status_replicas", "annotations"}}."""
        apps = self.api(region)[0]
        out = {}
        for d in apps.list_namespaced_deployment(namespace).items:
            s = d.status
            out[d.metadata.name] = {
                "replicas": d.spec.replicas, "resource_version": d.metadata.resource_version,
                "generation": d.metadata.generation, "ready": s.ready_replicas or 0,
                "available": s.available_replicas or 0, "updated": s.updated_replicas or 0,
                "status_replicas": s.replicas or 0,
                "annotations": dict(d.spec.template.metadata.annotations or {}),
            }
        return out

    def snapshot(self, region=STANDBY):
        """What a change to the deployments would alter: spec.replicas and resourceVersion."""
        return {n: (d["replicas"], d["resource_version"]) for n, d in self.deployments(region).items()}

    def rolled_out(self, names=None, replicas=None, region=STANDBY):
        deps = self.deployments(region)
        names = names or NINE
        return all(
            (replicas is None or deps[n]["replicas"] == replicas)
            and deps[n]["ready"] == deps[n]["available"] == deps[n]["updated"] == deps[n]["status_replicas"] == deps[n]["replicas"]
            for n in names)

    def pods(self, app, region=STANDBY):
        """Names of the app's pods that are not terminating, with whether each is Ready."""
        core = self.api(region)[1]
        out = {}
        for p in core.list_namespaced_pod(NS, label_selector="app=%s" % app).items:
            if p.metadata.deletion_timestamp:
                continue
            ready = any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))
            out[p.metadata.name] = ready
        return out

    def reset_calls(self):
        """Count from here: calls() is what clients write after this (reset() does it too)."""
        self._mark = cluster.audit_mark(self.run_dir)

    def calls(self):
        """The clients' mutating requests to both apiservers since reset_calls(), counted:
        {"k8s:eu-west-2:patch deployments/scale": 9}. Tests, seed, modules and kubectl are clients;
        the control plane (controllers, scheduler, apiserver) and the node simulator are not."""
        return cluster.mutating_requests(self.run_dir, self._mark)

    def writes(self):
        """The same requests one by one (key, uri, user, user_agent, code, time): for a failure message."""
        return cluster.audit_events(self.run_dir, self._mark)

    def wait_until(self, check, timeout=30, what="condition"):
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %s" % what)
            time.sleep(0.05)

    # --- act ---

    def knobs(self, region=STANDBY, pod_start_delay=None, hold=None):
        return cluster.set_knobs(self.run_dir, region, pod_start_delay=pod_start_delay, hold=hold)

    def scale(self, names, replicas, region=STANDBY):
        apps = self.api(region)[0]
        for name in names:
            apps.patch_namespaced_deployment_scale(name, NS, {"spec": {"replicas": replicas}})

    def reset(self):
        """Back to the seeded world: no holds, no start delay, eu-west-2 at 0, eu-west-1 at 3, no restarts.

        Then reset_calls(): the knobs and the seed's own writes are not a test's.
        """
        for region in (PRIMARY, STANDBY):
            self.knobs(region, pod_start_delay=0, hold=[])
        summary = k8s_seed.seed(self.kubeconfig, self.world_info, timeout=60)
        self.reset_calls()
        return summary

    def kubeconfig_with_dead_context(self, path, context="lomash-wood-eu-west-3"):
        """A copy of the kubeconfig with one more context, whose API server does not answer."""
        with open(self.kubeconfig, encoding="utf-8") as handle:
            cfg = yaml.safe_load(handle)
        with socket.socket() as sock:  # a port nothing listens on
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        template = cfg["clusters"][0]["cluster"]
        cfg["clusters"].append({"name": context, "cluster": dict(template, server="https://127.0.0.1:%d" % port)})
        cfg["contexts"].append({"name": context, "context": dict(cfg["contexts"][0]["context"], cluster=context)})
        with open(path, "w", encoding="utf-8") as handle:
            yaml.safe_dump(cfg, handle)
        return path, port
