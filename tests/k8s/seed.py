"""Seed the Kubernetes side of the production-shaped world, idempotently (DESIGN §1, issue 4).

    python -m tests.k8s.seed --kubeconfig F --world WORLD_JSON [--timeout 120]

WORLD_JSON is the AWS seed's output (`python -m tests.world seed --out FILE`). In both contexts,
`lomash-wood-eu-west-1` and `lomash-wood-eu-west-2`:

- namespace `lomash-wood`;
- the nine Deployments (3 replicas in eu-west-1, 0 in eu-west-2), image
  `registry.invalid/lomash-wood/<name>:1.0` (the node simulator never pulls), label app=<name>;
  every DB-backed one takes its environment from its Secret (envFrom secretRef);
- one Secret `<deployment>-db` per DB-backed deployment with DB_HOST, DB_PORT, DB_NAME, DB_USER,
  DB_PASSWORD pointing at the eu-west-1 PRIMARY (from the world JSON). The password is random,
  made at seed time, never printed, and kept on a re-seed.

A re-seed converges: missing objects are created; replicas, Secret connection fields and pod
template annotations (restarts) that drifted are put back; anything already right is left alone
(no write). It returns once every
deployment is rolled out at its seeded size. `seed(kubeconfig, world)` does the same from Python
and returns a summary without passwords.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import sys
import time

from kubernetes import client, config
from kubernetes.client.rest import ApiException

NAMESPACE = "lomash-wood"
CONTEXTS = {"eu-west-1": "lomash-wood-eu-west-1", "eu-west-2": "lomash-wood-eu-west-2"}
REPLICAS = {"eu-west-1": 3, "eu-west-2": 0}
IMAGE = "registry.invalid/lomash-wood/%s:1.0"
# deployment -> database service (tests/world/seed.py SERVICES); api-gateway has no database.
DATABASES = {
    "auth-service": "auth",
    "product-service": "products",
    "customer-service": "customers",
    "content-service": "content",
    "notification-service": "notifications",
    "order-payment-service": "orders",
    "appointment-service": "appointments",
    "analytics-service": "analytics",
}
DEPLOYMENTS = list(DATABASES) + ["api-gateway"]
SECRET_KEYS = ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD")


def secret_name(deployment: str) -> str:
    return deployment + "-db"


def connection(world: dict, deployment: str) -> dict[str, str]:
    """The non-secret connection fields of a deployment's Secret, at the eu-west-1 primary."""
    svc = DATABASES[deployment]
    primary = world["rds"]["primaries"][svc]
    return {"DB_HOST": primary["endpoint"], "DB_PORT": str(primary["port"]),
            "DB_NAME": "lomash_" + svc, "DB_USER": "lomash_%s_app" % svc}


def deployment_manifest(name: str, replicas: int) -> dict:
    labels = {"app": name, "app.kubernetes.io/part-of": "lomash-wood"}
    container = {"name": name, "image": IMAGE % name, "ports": [{"containerPort": 8080, "name": "http"}]}
    if name in DATABASES:
        container["envFrom"] = [{"secretRef": {"name": secret_name(name)}}]
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [container], "terminationGracePeriodSeconds": 5}},
        },
    }


def api_client(kubeconfig: str, context: str) -> client.ApiClient:
    cfg = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=cfg,
                            persist_config=False)
    return client.ApiClient(cfg)


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _unb64(value: str | None) -> str | None:
    return base64.b64decode(value).decode() if value is not None else None


class _Region:
    def __init__(self, kubeconfig: str, region: str, world: dict):
        self.region, self.context, self.world = region, CONTEXTS[region], world
        self.api = api_client(kubeconfig, self.context)
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.changed: list[str] = []

    def namespace(self) -> None:
        try:
            self.core.read_namespace(NAMESPACE)
        except ApiException as exc:
            if exc.status != 404:
                raise
            self.core.create_namespace({"metadata": {"name": NAMESPACE, "labels": {"app.kubernetes.io/part-of": "lomash-wood"}}})
            self.changed.append("namespace:%s/%s" % (self.context, NAMESPACE))

    def secret(self, deployment: str) -> dict[str, str]:
        name = secret_name(deployment)
        wanted = connection(self.world, deployment)
        try:
            current = self.core.read_namespaced_secret(name, NAMESPACE).data or {}
        except ApiException as exc:
            if exc.status != 404:
                raise
            current = None
        if current is None:
            data = dict(wanted, DB_PASSWORD=secrets.token_urlsafe(24))
            self.core.create_namespaced_secret(NAMESPACE, {
                "metadata": {"name": name, "labels": {"app": deployment}}, "type": "Opaque",
                "data": {k: _b64(v) for k, v in data.items()}})
            self.changed.append("secret:%s/%s" % (self.context, name))
            return wanted
        patch = {k: _b64(v) for k, v in wanted.items() if _unb64(current.get(k)) != v}
        if not current.get("DB_PASSWORD"):
            patch["DB_PASSWORD"] = _b64(secrets.token_urlsafe(24))
        if patch:
            self.core.patch_namespaced_secret(name, NAMESPACE, {"data": patch})
            self.changed.append("secret:%s/%s:%s" % (self.context, name, ",".join(sorted(patch))))
        return wanted

    def deployment(self, name: str) -> int:
        replicas = REPLICAS[self.region]
        try:
            current = self.apps.read_namespaced_deployment_scale(name, NAMESPACE)
        except ApiException as exc:
            if exc.status != 404:
                raise
            self.apps.create_namespaced_deployment(NAMESPACE, deployment_manifest(name, replicas))
            self.changed.append("deployment:%s/%s" % (self.context, name))
            return replicas
        if (current.spec.replicas or 0) != replicas:  # a Scale omits 0
            self.apps.patch_namespaced_deployment_scale(name, NAMESPACE, {"spec": {"replicas": replicas}})
            self.changed.append("deployment-replicas:%s/%s" % (self.context, name))
        template = self.apps.read_namespaced_deployment(name, NAMESPACE).spec.template.metadata
        if template.annotations:  # restarts (restartedAt, restart keys) are not part of the seeded world
            self.apps.patch_namespaced_deployment(name, NAMESPACE, {"spec": {"template": {"metadata": {"annotations": None}}}},
                                                  _content_type="application/merge-patch+json")
            self.changed.append("deployment-template:%s/%s" % (self.context, name))
        return replicas

    def rolled_out(self) -> dict[str, bool]:
        items = self.apps.list_namespaced_deployment(NAMESPACE).items
        out = {}
        for d in items:
            want, s = d.spec.replicas, d.status
            out[d.metadata.name] = bool(
                (s.observed_generation or 0) >= d.metadata.generation
                and (s.replicas or 0) == want and (s.updated_replicas or 0) == want
                and (s.ready_replicas or 0) == want and (s.available_replicas or 0) == want)
        return out

    def run(self) -> dict:
        self.namespace()
        connections = {secret_name(d): self.secret(d) for d in DATABASES}
        deployments = {d: self.deployment(d) for d in DEPLOYMENTS}
        return {"context": self.context, "namespace": NAMESPACE, "deployments": deployments,
                "secrets": connections}


def seed(kubeconfig: str, world: dict, timeout: float = 120.0) -> dict:
    """Create (or converge) the namespace, Secrets and Deployments in both contexts; wait until
    every deployment is rolled out. Returns {"regions": {region: summary}, "changed": [...]}
    (Secrets without passwords)."""
    regions = {r: _Region(kubeconfig, r, world) for r in CONTEXTS}
    out = {"regions": {r: reg.run() for r, reg in regions.items()}}
    deadline = time.monotonic() + timeout
    for region, reg in regions.items():
        while True:
            state = reg.rolled_out()
            pending = sorted(d for d in DEPLOYMENTS if not state.get(d))
            if not pending:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("%s: deployments not rolled out after %.0f s: %s" % (region, timeout, ", ".join(pending)))
            time.sleep(0.1)
    out["changed"] = [c for reg in regions.values() for c in reg.changed]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.k8s.seed", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--world", required=True, help="the AWS seed's JSON output")
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args(argv)
    with open(args.world, encoding="utf-8") as handle:
        world = json.load(handle)
    json.dump(seed(args.kubeconfig, world, args.timeout), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
