#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: eks_scale_services
short_description: Scale and restart a batch of Kubernetes deployments at once, and wait for all of them
version_added: 0.1.0
description:
  - Scales the named deployments of a namespace (for example the Lomash Wood services in the standby EKS
    cluster, 0 to 3 replicas on failover), all at the same time, through each deployment's C(scale)
    subresource, and restarts those whose Secrets changed since their pods started (I(restart)).
  - Waits for the whole batch with one list of the namespace's deployments per I(poll_interval), whatever
    the number of deployments. A deployment is done when the controller has seen its latest spec
    (C(observedGeneration)) and its updated, ready and available replicas all equal the requested
    size, with no pod of an older ReplicaSet left (for 0, no replica reported at all).
  - Before anything is changed, every value is checked. An empty, invalid (DNS-1123) or duplicate name,
    a negative size, an unknown deployment or namespace, a Secret a deployment reads that does not exist,
    a context that is not in the kubeconfig or an API server that cannot be reached refuses the whole
    batch, and the error names the value.
  - Writes are compare-and-set on replicas, like C(current_replicas) of M(kubernetes.core.k8s_scale) but
    atomic. Each is a JSON patch that first tests the replicas the plan saw, so a deployment resized by
    someone else meanwhile is left alone and reported, while status updates do not get in the way.
  - Idempotent and resumable. A deployment already at its size is not written to. A run that was killed
    after its writes is finished by the next run, which waits for the rollouts it started; with
    I(restart=on_secret_change) a restart is never repeated for the same Secret content.
  - The EKS node group the pods run on is scaled by M(lomashwood.multiregion.eks_nodegroup_scale).
author:
  - Lomash Wood platform team (@lomashwood)
options:
  services:
    description:
      - The deployments to scale (or restart), either a list of names that all get I(replicas), or a
        mapping of deployment name to its number of replicas.
      - With a I(restart) other than C(never), I(replicas) may be left out to keep the current sizes.
    type: raw
    required: true
  replicas:
    description:
      - The number of replicas for every deployment of a list in I(services).
      - Not used with a mapping in I(services).
    type: int
  restart:
    description:
      - C(never) only scales.
      - C(on_secret_change) restarts each deployment whose pods read Secrets (C(env) C(secretKeyRef),
        C(envFrom) C(secretRef), C(secret) and C(projected) volumes) whose data differs from what its pod
        template was last started with, in the manner of Helm's checksum annotations. The digest (SHA-256
        of the Secrets' data, never the data) is written to the pod template as
        C(multiregion.lomashwood.com/secrets-checksum) with the restart. A rerun, or a run after one that
        was killed mid-rollout, finds the digest and does not restart again; new content (a new failover,
        a failback) restarts. A deployment scaled from 0 gets the digest with its scale-up, so its pods
        start with it. Needs C(list) on Secrets in the namespace.
      - C(always) restarts every deployment on every run, like C(kubectl rollout restart)
        (annotation C(kubectl.kubernetes.io/restartedAt)).
    type: str
    choices: [never, always, on_secret_change]
    default: never
  poll_interval:
    description:
      - Seconds between two lists of the namespace's deployments while waiting.
      - Shorter than the collection's other modules, since Kubernetes rollouts take seconds and one list
        serves the whole batch.
    type: float
    default: 1
extends_documentation_fragment:
  - lomashwood.multiregion.k8s_connection
  - kubernetes.core.k8s_auth_options
  - lomashwood.multiregion.batch
  - lomashwood.multiregion.attributes
notes:
  - API calls are counted per client call by operation (C(list_namespaced_deployment),
    C(list_namespaced_secret), C(patch_namespaced_deployment_scale), C(patch_namespaced_deployment), ...)
    in I(api_calls); check mode and a rerun after success make no C(patch_*) call.
  - When a write fails, the deployments already written to keep their change and the module fails without
    waiting; run it again to finish.
seealso:
  - module: kubernetes.core.k8s_scale
  - module: lomashwood.multiregion.eks_nodegroup_scale
"""

EXAMPLES = r"""
- name: Bring the standby region's services up, each started with its current Secrets (failover)
  lomashwood.multiregion.eks_scale_services:
    context: lomash-wood-eu-west-2
    namespace: lomash-wood
    services:
      - auth-service
      - product-service
      - customer-service
      - content-service
      - notification-service
      - order-payment-service
      - appointment-service
      - analytics-service
      - api-gateway
    replicas: 3
    restart: on_secret_change
    wait_timeout: 900
  register: scaled

- name: Different sizes per service
  lomashwood.multiregion.eks_scale_services:
    context: lomash-wood-eu-west-2
    services:
      api-gateway: 4
      auth-service: 3
      analytics-service: 1

- name: Restart the services whose Secrets changed, at their current size (once per content)
  lomashwood.multiregion.eks_scale_services:
    context: lomash-wood-eu-west-2
    services: [auth-service, order-payment-service]
    restart: on_secret_change

- name: Rehearse, changing nothing (shows each deployment's replicas before and after)
  lomashwood.multiregion.eks_scale_services:
    context: lomash-wood-eu-west-2
    services: [auth-service, api-gateway]
    replicas: 3
  check_mode: true
  diff: true

- name: Set the connection once for this collection and kubernetes.core
  module_defaults:
    group/lomashwood.multiregion.k8s:
      kubeconfig: "{{ kubeconfig_path }}"
      context: lomash-wood-eu-west-2
  block:
    - name: Scale the standby back to rest (failback)
      lomashwood.multiregion.eks_scale_services:
        services: [auth-service, api-gateway]
        replicas: 0

- name: Show how long each took
  ansible.builtin.debug:
    msg: "{{ scaled.results | items2dict(key_name='name', value_name='seconds') }}"
"""

RETURN = r"""
extends_documentation_fragment:
  - lomashwood.multiregion.batch
changed:
  description: Whether any deployment was (or, in check mode, would be) changed.
  returned: always
  type: bool
namespace:
  description: The namespace.
  returned: always
  type: str
  sample: lomash-wood
target:
  description: The context and API server used.
  returned: when connected
  type: str
  sample: context lomash-wood-eu-west-2 (https://127.0.0.1:6443)
results:
  description: One entry per requested deployment, in request order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Deployment name.
      type: str
      sample: auth-service
    action:
      description: >-
        C(scale), C(restart), C(scale-and-restart), C(wait) (already at its size, rollout still in progress,
        e.g. started by a killed run) or C(none).
      type: str
    changed:
      description: Whether this run wrote to it (in check mode, would).
      type: bool
    before:
      description: >-
        Spec replicas, ready, available and updated replicas, the restartedAt annotation and the Secrets'
        digest the pods started with, before the run.
      type: dict
      sample: {"replicas": 0, "ready_replicas": 0, "available_replicas": 0, "updated_replicas": 0, "restarted_at": null,
               "secrets_checksum": null}
    after:
      description: The same at the end of the run (in check mode, the predicted end state).
      type: dict
      sample: {"replicas": 3, "ready_replicas": 3, "available_replicas": 3, "updated_replicas": 3,
               "restarted_at": "2026-12-02T03:04:05.123456+00:00", "secrets_checksum": "9f86d08...b0f00a08"}
    ready:
      description: Rolled out at the requested size when the module returned (in check mode, already before the run).
      type: bool
    seconds:
      description: Seconds from the start of the run until it was rolled out; null when not waited for or not done.
      type: float
    error:
      description: Why it failed, or null.
      type: str
plan:
  description: The actions decided before anything was changed (what check mode shows).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "auth-service", "action": "scale", "before": 0, "after": 3}]
diff:
  description: Replicas (with a restart, restartedAt and the Secrets' digest) before and after, for C(--diff).
  returned: always
  type: dict
"""

from dataclasses import replace

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.lomashwood.multiregion.plugins.module_utils import _k8s_client as k8s
from ansible_collections.lomashwood.multiregion.plugins.module_utils import k8s_scale as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import (
    Adapter, ApiCallCounter, BatchError, batch_argument_spec, diff_of, execute)


class Scaling(Adapter):
    """eks_scale_services for the module flow (module_utils/batch.py)."""

    noun = "deployment"

    def __init__(self, module, counter):
        p = self.params = module.params
        # The request alone, before any API call.
        self.restart = core.check_restart(p["restart"])
        self.wanted = core.requested_replicas(p["services"], p["replicas"], self.restart != "never")
        self.namespace = core.check_namespace(p["namespace"])
        try:
            self.api, self.target = k8s.connect(p, counter, p["max_concurrency"])
        except k8s.K8sConnectionError as exc:
            raise BatchError([str(exc)])
        self.stamp = core.restart_stamp()
        self.checksums = {}

    def observe(self):
        """The namespace's deployments (one list), and the digests of the Secrets they read."""
        try:
            observed = core.list_deployments(self.api, self.namespace)
        except Exception as exc:  # pylint: disable=broad-except
            if k8s.is_status(exc, 401, 403):
                raise BatchError(["not allowed to list deployments in namespace %s with %s: %s"
                                  % (self.namespace, self.target, k8s.describe_error(exc))])
            raise BatchError(["cannot reach the Kubernetes API of %s: %s" % (self.target, k8s.describe_error(exc))])
        self.namespace_missing = any(n not in observed for n in self.wanted) and self._namespace_missing()
        if self.restart == "on_secret_change" and not self.namespace_missing:
            self.checksums = core.secrets_checksums([observed[n] for n in self.wanted if n in observed],
                                                    core.list_secrets(self.api, self.namespace), self.namespace)
        return observed

    def _namespace_missing(self):
        try:
            self.api.read_namespace(self.namespace)
        except Exception as exc:  # pylint: disable=broad-except
            if k8s.is_status(exc, 404):
                return True
            if not k8s.is_status(exc, 401, 403):  # not allowed to read namespaces: report the deployments
                raise
        return False

    def plan(self, observed):
        return core.plan_scaling(self.wanted, observed, self.namespace, self.restart, self.checksums,
                                 self.namespace_missing, self.target)

    def simulate(self, plan, observed):
        return {c.name: core.simulate(c, observed[c.name], self.stamp) for c in plan}

    def apply(self, plan):
        written, failures = core.apply_plan(self.api, self.namespace, plan, self.params["max_concurrency"], self.stamp,
                                            lambda exc: k8s.is_status(exc, 409, 422))
        # A change found done already (by someone else meanwhile) is waited for, not reported as ours.
        plan = [c if c.name in written or c.name in failures or not c.changed else replace(c, action="wait")
                for c in plan]
        return plan, failures

    def poll(self):
        return core.list_deployments(self.api, self.namespace)

    def is_done(self, action, state):
        return core.rolled_out(state, action.after)

    def progress(self, name, state):
        return core.progress(state)

    def describe_error(self, exc):
        return str(exc) if isinstance(exc, core.ScaleConflict) else k8s.describe_error(exc)

    def summarise(self, plan, before, after, done, failures, check_mode):
        results = []
        for change in plan:
            was, now = before[change.name], after.get(change.name)
            results.append(dict(
                name=change.name, action=change.action,
                changed=change.changed and change.name not in failures,
                before=was.summary(), after=now.summary() if now is not None else None,
                ready=core.rolled_out(was if check_mode else now, change.after),
                seconds=done.get(change.name),
                error=self.describe_error(failures[change.name]) if change.name in failures else None,
            ))
        shown = ("replicas",) if self.restart == "never" else ("replicas", "restarted_at", "secrets_checksum")
        diff = diff_of(results, lambda summary: {k: summary[k] for k in shown}, key="deployments",
                       namespace=self.namespace)
        return dict(results=results, diff=diff, namespace=self.namespace, target=self.target)


def main():
    argument_spec = dict(
        services=dict(type="raw", required=True),
        replicas=dict(type="int"),
        restart=dict(type="str", default="never", choices=list(core.RESTART_MODES)),
        namespace=dict(type="str", default="lomash-wood"),
        **batch_argument_spec(poll_interval=1),
    )
    argument_spec.update(k8s.AUTH_ARG_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not k8s.HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(k8s.KUBERNETES_IMPORT_ERROR))
    counter = ApiCallCounter()
    execute(module, lambda m: Scaling(m, counter), counter)


if __name__ == "__main__":
    main()
