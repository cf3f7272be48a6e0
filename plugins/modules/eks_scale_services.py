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
    subresource, and optionally restarts them the way C(kubectl rollout restart) does.
  - Waits for the whole batch with one list of the namespace's deployments per I(poll_interval), whatever
    the number of deployments. A deployment is done when the controller has seen its latest spec
    (C(observedGeneration)) and its updated, ready and available replicas all equal the requested
    size, with no pod of an older ReplicaSet left (for 0, no replica reported at all).
  - Before anything is changed, every value is checked. An empty, invalid (DNS-1123) or duplicate name,
    a negative size, an unknown deployment or namespace, a context that is not in the kubeconfig or an
    API server that cannot be reached refuses the whole batch, and the error names the value.
  - Writes are compare-and-set on replicas, like C(current_replicas) of M(kubernetes.core.k8s_scale) but
    atomic. Each is a JSON patch that first tests the replicas the plan saw, so a deployment resized by
    someone else meanwhile is left alone and reported, while status updates do not get in the way.
  - Optionally scales an EKS managed node group first (I(node_group)), so that on real EKS the new pods
    have nodes to run on.
  - Idempotent and resumable. A deployment already at its size is not written to. A run that was killed
    after its writes is finished by the next run, which waits for the rollouts it started; with
    I(restart_key), a restart done by an earlier run is recognised and not repeated.
author:
  - Lomash Wood platform team (@lomashwood)
options:
  services:
    description:
      - The deployments to scale (or restart), either a list of names that all get I(replicas), or a
        mapping of deployment name to its number of replicas.
      - With I(restart=true), I(replicas) may be left out to restart the deployments at their current size.
    type: raw
    required: true
  replicas:
    description:
      - The number of replicas for every deployment of a list in I(services).
      - Not used with a mapping in I(services).
    type: int
  restart:
    description:
      - Restart the deployments like C(kubectl rollout restart), by setting the pod-template annotation
        C(kubectl.kubernetes.io/restartedAt), and wait until every old pod is replaced.
      - Pods then pick up changed Secrets and ConfigMaps, for example new database endpoints.
      - Without I(restart_key) every run restarts them again, as C(kubectl rollout restart) does.
    type: bool
    default: false
  restart_key:
    description:
      - Makes I(restart) idempotent. The key is written to the pod template (annotation
        C(multiregion.lomashwood.com/restart-key)) with the restart; a deployment that already carries it
        is not restarted again, and a rollout still in progress is waited for.
      - One string for every deployment, or a mapping of deployment name to its own key (it must name
        exactly the deployments in I(services)).
      - Use a value that changes when a restart is needed, for example a hash of the new endpoint, or the
        failover run's id.
    type: raw
  node_group:
    description:
      - An EKS managed node group to scale before the deployments, with boto3 (C(eks) C(UpdateNodegroupConfig)).
        Skipped when not given.
      - Credentials come from the usual boto3 chain (environment, I(profile), instance role); the endpoint
        from I(endpoint_url), else C(AWS_ENDPOINT_URL_EKS) or C(AWS_ENDPOINT_URL), else AWS.
      - The module does not wait for the nodes; the deployments' wait covers pods that wait for them.
    type: dict
    suboptions:
      cluster_name:
        description: The EKS cluster.
        type: str
        required: true
      nodegroup_name:
        description: The managed node group.
        type: str
        required: true
      desired_size:
        description: Desired number of nodes; must be within the node group's minimum and maximum size.
        type: int
        required: true
      region:
        description: The cluster's AWS region. Defaults to C(AWS_REGION) or C(AWS_DEFAULT_REGION).
        type: str
      endpoint_url:
        description: The EKS endpoint, for an emulator or a VPC endpoint.
        type: str
      profile:
        description: A named AWS profile.
        type: str
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
requirements:
  - boto3 (only with I(node_group))
notes:
  - API calls are counted per client call by operation (C(list_namespaced_deployment),
    C(patch_namespaced_deployment_scale), C(patch_namespaced_deployment), C(DescribeNodegroup), ...) in
    I(api_calls); check mode and a rerun after success make no C(patch_*) or C(Update*) call.
  - When a write fails, the deployments already written to keep their change and the module fails without
    waiting; run it again to finish.
seealso:
  - module: kubernetes.core.k8s_scale
"""

EXAMPLES = r"""
- name: Bring the standby region's services up (failover)
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
    node_group:
      cluster_name: lomash-wood-eu-west-2
      nodegroup_name: lomash-wood-workers
      desired_size: 3
      region: eu-west-2
    wait_timeout: 900
  register: scaled

- name: Different sizes per service
  lomashwood.multiregion.eks_scale_services:
    context: lomash-wood-eu-west-2
    services:
      api-gateway: 4
      auth-service: 3
      analytics-service: 1

- name: Restart the services whose database Secret changed, once per failover
  lomashwood.multiregion.eks_scale_services:
    context: lomash-wood-eu-west-2
    services: "{{ changed_secrets | map('regex_replace', '-db$', '') | list }}"
    restart: true
    restart_key: "{{ failover_run_id }}"

- name: Restart each service once per new database endpoint (one key per deployment)
  lomashwood.multiregion.eks_scale_services:
    context: lomash-wood-eu-west-2
    services: [auth-service, order-payment-service]
    restart: true
    restart_key:
      auth-service: "{{ (incident_id ~ '/' ~ endpoints.auth) | hash('sha1') }}"
      order-payment-service: "{{ (incident_id ~ '/' ~ endpoints.orders) | hash('sha1') }}"

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
changed:
  description: Whether any deployment or the node group was (or, in check mode, would be) changed.
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
      description: Spec replicas, ready, available and updated replicas and the restartedAt annotation before the run.
      type: dict
      sample: {"replicas": 0, "ready_replicas": 0, "available_replicas": 0, "updated_replicas": 0, "restarted_at": null}
    after:
      description: The same at the end of the run (in check mode, the predicted end state).
      type: dict
      sample: {"replicas": 3, "ready_replicas": 3, "available_replicas": 3, "updated_replicas": 3, "restarted_at": null}
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
node_group:
  description: The node group's change, when I(node_group) was given.
  returned: when node_group is given
  type: dict
  sample: {"cluster_name": "lomash-wood-eu-west-2", "nodegroup_name": "lomash-wood-workers", "action": "scale",
           "changed": true, "before": {"desired_size": 1}, "after": {"desired_size": 3}, "min_size": 1,
           "max_size": 6, "update_id": "e38c76f7-eba2-4f73-86f6-100f90a9dd27"}
pending:
  description: Deployments not rolled out when the wait timed out.
  returned: on timeout
  type: list
  elements: str
done:
  description: Deployments rolled out when the wait timed out.
  returned: on timeout
  type: list
  elements: str
problems:
  description: Every reason the batch was refused before any change.
  returned: when refused
  type: list
  elements: str
diff:
  description: Replicas (and restartedAt, node group size) before and after, for C(--diff).
  returned: always
  type: dict
"""

import time
import traceback
from dataclasses import replace

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.lomashwood.multiregion.plugins.module_utils import _k8s_client as k8s
from ansible_collections.lomashwood.multiregion.plugins.module_utils import k8s_scale as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import ApiCallCounter, BatchError, BatchTimeout

try:
    import boto3
    HAS_BOTO3 = True
except ImportError:
    HAS_BOTO3 = False

try:
    from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
    from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry, RetryingBotoClientWrapper
    HAS_AMAZON_AWS = True
except ImportError:
    HAS_AMAZON_AWS = False


class _ModuleFailure(Exception):
    def __init__(self, msg, result):
        super().__init__(msg)
        self.result = result


# ---- the node group (optional, through boto3) -------------------------------------------------

def _eks_client(node_group, counter):
    if not HAS_BOTO3 or not HAS_AMAZON_AWS:
        raise _ModuleFailure(missing_required_lib("boto3 and the amazon.aws collection"), {})
    session = boto3.session.Session(profile_name=node_group.get("profile"), region_name=node_group.get("region"))
    if not session.region_name:
        raise BatchError(["node_group.region is not set (nor AWS_REGION / AWS_DEFAULT_REGION)"])
    eks = counter.attach(session.client("eks", endpoint_url=node_group.get("endpoint_url") or None))
    return RetryingBotoClientWrapper(eks, AWSRetry.jittered_backoff(retries=8, delay=1, max_delay=20))


def _plan_node_group(node_group, counter):
    if not node_group:
        return None, None
    if node_group["desired_size"] < 0:
        raise BatchError(["node_group desired_size must be >= 0, got %d" % node_group["desired_size"]])
    eks = _eks_client(node_group, counter)
    scaling = core.describe_nodegroup(eks, node_group["cluster_name"], node_group["nodegroup_name"],
                                      lambda exc: isinstance(exc, is_boto3_error_code("ResourceNotFoundException")))
    return eks, core.plan_nodegroup(node_group["cluster_name"], node_group["nodegroup_name"], node_group["desired_size"], scaling)


# ---- observe and plan -------------------------------------------------------------------------

def _observe(api, namespace, wanted, target):
    """The namespace's deployments (one list) and whether the namespace exists (asked only if needed)."""
    try:
        observed = core.list_deployments(api, namespace)
    except Exception as exc:  # pylint: disable=broad-except
        if k8s.is_status(exc, 401, 403):
            raise BatchError(["not allowed to list deployments in namespace %s with %s: %s"
                              % (namespace, target, k8s.describe_error(exc))])
        raise BatchError(["cannot reach the Kubernetes API of %s: %s" % (target, k8s.describe_error(exc))])
    missing = False
    if any(name not in observed for name in wanted):
        try:
            api.read_namespace(namespace)
        except Exception as exc:  # pylint: disable=broad-except
            if k8s.is_status(exc, 404):
                missing = True
            elif not k8s.is_status(exc, 401, 403):  # not allowed to read namespaces: report the deployments
                raise
    return observed, missing


def run(module, counter):
    params = module.params
    started = time.monotonic()
    # The request alone, before any API call.
    wanted = core.requested_replicas(params["services"], params["replicas"], params["restart"])
    namespace = core.check_namespace(params["namespace"])
    core.restart_keys(params["restart_key"], list(wanted), params["restart"])

    # Connect and observe: read-only calls; every problem found is reported together.
    problems = []
    try:
        api, target = k8s.connect(params, counter, params["max_concurrency"])
    except k8s.K8sConnectionError as exc:
        raise BatchError([str(exc)])
    result = dict(changed=False, namespace=namespace, target=target, results=[], plan=[])
    observed, plan = {}, []
    try:
        observed, namespace_missing = _observe(api, namespace, wanted, target)
        plan = core.plan_scaling(wanted, observed, namespace, params["restart"], params["restart_key"],
                                 namespace_missing, target)
    except BatchError as exc:
        problems += exc.problems
    eks, ng_change = None, None
    try:
        eks, ng_change = _plan_node_group(params["node_group"], counter)
    except BatchError as exc:
        problems += exc.problems
    if problems:
        raise BatchError(problems)

    stamp = core.restart_stamp()
    before = {c.name: observed[c.name] for c in plan}
    result.update(
        changed=any(c.changed for c in plan) or bool(ng_change and ng_change.changed),
        plan=[c.as_dict() for c in plan],
    )
    if ng_change:
        result["node_group"] = ng_change.as_dict()
    if module.check_mode:
        after = {c.name: core.simulate(c, before[c.name], stamp) for c in plan}
        return _finish(result, plan, before, after, {}, {}, started, counter, params, check_mode=True)

    # Apply: the node group first, so that new pods have somewhere to run.
    if ng_change and ng_change.changed:
        result["node_group"]["update_id"] = core.scale_nodegroup(eks, ng_change)
    written, failures = core.apply_plan(api, namespace, plan, params["max_concurrency"], stamp,
                                        lambda exc: k8s.is_status(exc, 409, 422))
    plan = [c if c.name in written or c.name in failures or not c.changed else replace(c, action="wait") for c in plan]
    result["changed"] = bool(written) or bool(ng_change and ng_change.changed)
    if failures:
        result = _finish(result, plan, before, core.list_deployments(api, namespace), {}, failures, started, counter, params)
        raise _ModuleFailure("Failed to change %s" % "; ".join("%s: %s" % (n, _reason(e)) for n, e in sorted(failures.items())),
                             result)
    if all(c.action == "none" for c in plan):  # nothing written, all rolled out already: observed is the end state
        done = {c.name: round(time.monotonic() - started, 2) for c in plan}
        return _finish(result, plan, before, observed, done, {}, started, counter, params)
    if not params["wait"]:
        return _finish(result, plan, before, core.list_deployments(api, namespace), {}, {}, started, counter, params)

    targets = {c.name: c.after for c in plan}
    try:
        done, after, _elapsed = core.wait_for_rollout(api, namespace, targets, params["wait_timeout"],
                                                      params["poll_interval"], start=started)
    except BatchTimeout as timeout:
        result = _finish(result, plan, before, timeout.observed, timeout.done, {}, started, counter, params)
        result.update(pending=timeout.pending, done=sorted(timeout.done))
        waiting = ", ".join("%s (%s)" % (n, core.progress(timeout.observed.get(n))) for n in timeout.pending)
        raise _ModuleFailure("Timed out after %.0f s waiting for %d of %d deployment(s) in namespace %s: still waiting for "
                             "%s; done: %s" % (timeout.elapsed, len(timeout.pending), len(plan), namespace, waiting,
                                               ", ".join(sorted(timeout.done)) or "none"), result)
    return _finish(result, plan, before, after, done, {}, started, counter, params)


def _reason(exc):
    return str(exc) if isinstance(exc, core.ScaleConflict) else k8s.describe_error(exc)


def _finish(result, plan, before, after, done, failures, started, counter, params, check_mode=False):
    results = []
    for change in plan:
        was = before[change.name]
        now = after.get(change.name)
        results.append(dict(
            name=change.name,
            action=change.action,
            changed=change.changed and change.name not in failures,
            before=was.summary(),
            after=now.summary() if now is not None else None,
            ready=core.rolled_out(was if check_mode else now, change.after),
            seconds=done.get(change.name),
            error=_reason(failures[change.name]) if change.name in failures else None,
        ))
    show_restart = params["restart"]

    def view(summary):
        if summary is None:
            return None
        return {k: v for k, v in summary.items() if k == "replicas" or (show_restart and k == "restarted_at")}
    diff_before = {"namespace": result["namespace"], "deployments": {r["name"]: view(r["before"]) for r in results}}
    diff_after = {"namespace": result["namespace"], "deployments": {r["name"]: view(r["after"]) for r in results}}
    if "node_group" in result:
        diff_before["node_group"] = result["node_group"]["before"]
        diff_after["node_group"] = result["node_group"]["after"]
    result.update(
        results=results,
        elapsed_seconds=round(time.monotonic() - started, 2),
        api_calls=counter.as_dict(),
        diff=dict(before=diff_before, after=diff_after),
    )
    return result


def main():
    argument_spec = dict(
        services=dict(type="raw", required=True),
        replicas=dict(type="int"),
        restart=dict(type="bool", default=False),
        restart_key=dict(type="raw", no_log=False),
        namespace=dict(type="str", default="lomash-wood"),
        node_group=dict(type="dict", options=dict(
            cluster_name=dict(type="str", required=True),
            nodegroup_name=dict(type="str", required=True),
            desired_size=dict(type="int", required=True),
            region=dict(type="str"),
            endpoint_url=dict(type="str"),
            profile=dict(type="str"),
        )),
        max_concurrency=dict(type="int", default=10),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
        poll_interval=dict(type="float", default=1),
    )
    argument_spec.update(k8s.AUTH_ARG_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not k8s.HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(k8s.KUBERNETES_IMPORT_ERROR))
    for opt in ("max_concurrency", "wait_timeout"):
        if module.params[opt] < 1:
            module.fail_json(msg="%s must be at least 1, got %s" % (opt, module.params[opt]))
    if module.params["poll_interval"] <= 0:
        module.fail_json(msg="poll_interval must be positive, got %s" % module.params["poll_interval"])

    counter = ApiCallCounter()
    try:
        result = run(module, counter)
    except BatchError as exc:
        module.fail_json(msg="Refusing to change anything: %s" % exc, problems=exc.problems, changed=False,
                         api_calls=counter.as_dict())
    except _ModuleFailure as exc:
        module.fail_json(msg=str(exc), **exc.result)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="Failed to scale the deployments: %s" % k8s.describe_error(exc),
                         exception=traceback.format_exc(), api_calls=counter.as_dict())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
