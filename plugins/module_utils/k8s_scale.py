# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The core of eks_scale_services: observe deployments, plan scaling and restarts, apply.

Planning is pure (request + observed deployments -> plan or BatchError), and so is the readiness
predicate. Observing and applying take an API object with the typed client's method names
(_k8s_client.KubeApi: the kubernetes client's ApiClient, every call counted) and work on plain
API dicts: one list of the namespace's deployments serves a whole poll, whatever the batch size.

Writes are compare-and-set on replicas: each is a JSON patch whose first operation tests the
replicas the plan saw, so a deployment resized by someone else in between is left alone and
reported, while status updates in between (which change resourceVersion all the time during a
rollout) do not get in the way.

Restarts follow what the pods read, in the manner of Helm's checksum annotations: the pod
template carries a digest of the data of every Secret it references (env, envFrom, volumes),
written with the restart. A deployment whose Secrets now hash differently restarts; one whose
digest matches does not, so a rerun, or a run after a killed one, never restarts twice. The
digest is the only thing computed from Secret values, and the values are never kept or returned.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from .batch import BatchError, duplicates, run_concurrently

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"  # what `kubectl rollout restart` writes
SECRETS_CHECKSUM = "multiregion.lomashwood.com/secrets-checksum"
RESTART_MODES = ("never", "always", "on_secret_change")
JSON_PATCH = "application/json-patch+json"
LIST_PAGE = 500
CAS_ATTEMPTS = 5
# Deployment names are DNS-1123 subdomains; namespaces DNS-1123 labels.
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


# ---- observed state ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Deployment:
    """One Deployment as the API reports it, reduced to what planning and waiting need."""

    name: str
    replicas: int  # spec.replicas: what it should run
    generation: int = 1
    observed_generation: int = 0
    status_replicas: int = 0  # pods of every ReplicaSet, old ones included
    updated: int = 0
    ready: int = 0
    available: int = 0
    unavailable: int = 0
    annotations: dict = field(default_factory=dict)  # the pod template's
    progress_reason: str | None = None  # the Progressing condition's reason
    secret_refs: dict = field(default_factory=dict)  # {Secret name: optional} the pods read

    @classmethod
    def from_api(cls, obj):
        meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
        template_meta = (spec.get("template") or {}).get("metadata") or {}
        progressing = [c for c in status.get("conditions") or [] if c.get("type") == "Progressing"]
        return cls(
            name=meta["name"],
            replicas=int(spec.get("replicas", 1)),  # the API defaults an unset spec.replicas to 1
            generation=int(meta.get("generation") or 0),
            observed_generation=int(status.get("observedGeneration") or 0),
            status_replicas=int(status.get("replicas") or 0),
            updated=int(status.get("updatedReplicas") or 0),
            ready=int(status.get("readyReplicas") or 0),
            available=int(status.get("availableReplicas") or 0),
            unavailable=int(status.get("unavailableReplicas") or 0),
            annotations=dict(template_meta.get("annotations") or {}),
            progress_reason=progressing[0].get("reason") if progressing else None,
            secret_refs=secret_refs((spec.get("template") or {}).get("spec") or {}),
        )

    @property
    def restarted_at(self):
        return self.annotations.get(RESTARTED_AT)

    @property
    def secrets_checksum(self):
        return self.annotations.get(SECRETS_CHECKSUM)

    def summary(self):
        return {"replicas": self.replicas, "ready_replicas": self.ready, "available_replicas": self.available,
                "updated_replicas": self.updated, "restarted_at": self.restarted_at,
                "secrets_checksum": self.secrets_checksum}


def secret_refs(pod_spec):
    """{name: optional} of every Secret a pod template reads: env secretKeyRef, envFrom and volumes.

    A Secret referenced both optionally and not is required.
    """
    refs = {}

    def add(ref, name_key="name"):
        name = (ref or {}).get(name_key)
        if name:
            refs[name] = refs.get(name, True) and bool(ref.get("optional"))

    containers = (pod_spec.get("initContainers") or []) + (pod_spec.get("containers") or [])
    for container in containers:
        for env in container.get("env") or []:
            add((env.get("valueFrom") or {}).get("secretKeyRef"))
        for source in container.get("envFrom") or []:
            add(source.get("secretRef"))
    for volume in pod_spec.get("volumes") or []:
        add(volume.get("secret"), "secretName")
        for source in (volume.get("projected") or {}).get("sources") or []:
            add(source.get("secret"))
    return refs


def secrets_checksum(dep, secrets, namespace):
    """The digest of the data of the Secrets dep's pods read (sha256 hex); BatchError for a missing one.

    secrets: {name: Secret as the API returns it}. An absent optional Secret counts as absent.
    """
    missing = [n for n, optional in sorted(dep.secret_refs.items()) if n not in secrets and not optional]
    if missing:
        raise BatchError(["%s reads Secret %s, which is not in namespace %s"
                          % (dep.name, ", ".join(repr(n) for n in missing), namespace)])
    content = {n: (secrets[n].get("data") or {}) if n in secrets else None for n in sorted(dep.secret_refs)}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def secrets_checksums(deployments, secrets, namespace):
    """{name: secrets_checksum} for every deployment; one BatchError naming every missing Secret."""
    checksums, problems = {}, []
    for dep in deployments:
        try:
            checksums[dep.name] = secrets_checksum(dep, secrets, namespace)
        except BatchError as exc:
            problems += exc.problems
    if problems:
        raise BatchError(problems)
    return checksums


def rolled_out(dep, replicas=None):
    """The readiness predicate, as `kubectl rollout status` means it, for a given size.

    The controller has seen the latest spec (observedGeneration), and every replica is updated,
    ready and available, with no old pod left over (status.replicas counts the old ReplicaSets'
    pods too, so a restart is not done while they linger). For 0: no replica reported at all.
    """
    if dep is None:
        return False
    want = dep.replicas if replicas is None else replicas
    return (dep.replicas == want
            and dep.observed_generation >= dep.generation
            and dep.status_replicas == want
            and dep.updated == want
            and dep.ready == want
            and dep.available == want
            and dep.unavailable == 0)


def progress(dep):
    """'ready 1/3, available 1/3, updated 3/3' (+ the Progressing reason when it is not plain)."""
    if dep is None:
        return "not found"
    text = "ready %d/%d, available %d/%d, updated %d/%d" % (dep.ready, dep.replicas, dep.available, dep.replicas,
                                                            dep.updated, dep.replicas)
    if dep.observed_generation < dep.generation:
        text += ", change not yet observed by the controller"
    elif dep.status_replicas > dep.replicas:
        text += ", %d old pod(s) still running" % (dep.status_replicas - dep.replicas)
    if dep.progress_reason not in (None, "NewReplicaSetAvailable", "ReplicaSetUpdated", "NewReplicaSetCreated",
                                   "FoundNewReplicaSet"):
        text += ", %s" % dep.progress_reason
    return text


# ---- request ----------------------------------------------------------------------------------

def _replica_count(value, what):
    """An int >= 0 from an int or a digit string (templated values arrive as strings)."""
    if isinstance(value, bool):
        raise ValueError("%s must be an integer, got %r" % (what, value))
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.match(r"^-?\d+$", value.strip()):
        number = int(value.strip())
    else:
        raise ValueError("%s must be an integer, got %r" % (what, value))
    if number < 0:
        raise ValueError("%s must be >= 0, got %d" % (what, number))
    return number


def requested_replicas(services, replicas=None, restart=False):
    """{name: replicas, or None to keep the current size} in request order; BatchError names every bad value.

    services is a list of names sharing replicas, or a mapping name -> replicas. With restart,
    a size may be left out (restart only).
    """
    problems = []
    is_mapping = isinstance(services, dict)
    if is_mapping:
        if replicas is not None:
            problems.append("replicas=%s is only used with a list of services; the mapping gives each its own" % replicas)
        items = list(services.items())
    elif isinstance(services, (list, tuple)):
        common = None
        if replicas is None:
            if not restart:
                problems.append("replicas is required with a list of services (or give a mapping name: replicas)")
        else:
            try:
                common = _replica_count(replicas, "replicas")
            except ValueError as exc:
                problems.append(str(exc))
        items = [(name, common) for name in services]
    else:
        raise BatchError(["services must be a list of deployment names or a mapping name: replicas, got %r" % (services,)])
    if not items:
        raise BatchError(["services is empty: name at least one deployment"])
    wanted = {}
    for name, count in items:
        if not isinstance(name, str) or len(name) > 253 or not _SUBDOMAIN.match(name):
            problems.append("%r is not a valid deployment name (DNS-1123 subdomain: lower-case letters, digits, "
                            "'-' and '.', starting and ending with a letter or digit)" % (name,))
            continue
        if is_mapping and not (count is None and restart):
            try:
                count = _replica_count(count, "%s: replicas" % name)
            except ValueError as exc:
                problems.append(str(exc))
                continue
        wanted[name] = count
    if not is_mapping:
        dups = duplicates([n for n in services if isinstance(n, str)])
        if dups:
            problems.append("duplicate deployment names: %s" % ", ".join(dups))
    if problems:
        raise BatchError(problems)
    return wanted


def check_namespace(namespace):
    if not isinstance(namespace, str) or len(namespace) > 63 or not _LABEL.match(namespace):
        raise BatchError(["%r is not a valid namespace name (DNS-1123 label)" % (namespace,)])
    return namespace


def check_restart(restart):
    if restart not in RESTART_MODES:
        raise BatchError(["restart must be one of %s, got %r" % (", ".join(RESTART_MODES), restart)])
    return restart


# ---- plan -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    """What to do to one deployment. action: scale, restart, scale-and-restart, wait or none."""

    name: str
    action: str
    before: int
    after: int
    template_annotations: bool = False  # whether the pod template has annotations already (for the patch)
    checksum: str | None = None  # the Secrets' digest to write with a restart

    @property
    def changed(self):
        return self.action in ("scale", "restart", "scale-and-restart")

    @property
    def restart(self):
        return self.action in ("restart", "scale-and-restart")

    def as_dict(self):
        return {"name": self.name, "action": self.action, "before": self.before, "after": self.after}


def plan_scaling(wanted, observed, namespace, restart="never", checksums=None, namespace_missing=False, where=""):
    """Decide, for every requested deployment, what to change; refuse the batch naming every unknown one.

    wanted: {name: replicas or None}; observed: {name: Deployment} of the namespace; restart: one
    of RESTART_MODES; checksums: {name: digest of the Secrets it reads now} (on_secret_change).
    A deployment whose pod template already carries that digest started with that content: no
    restart. Nothing to change: "none" when rolled out, else "wait" (e.g. a killed run's rollout).
    """
    where = " (%s)" % where if where else ""
    if namespace_missing:
        raise BatchError(["namespace %r does not exist%s" % (namespace, where)])
    problems, plan = [], []
    for name, want in wanted.items():
        dep = observed.get(name)
        if dep is None:
            problems.append("no deployment named %r in namespace %s%s" % (name, namespace, where))
            continue
        after = dep.replicas if want is None else want
        scale = after != dep.replicas
        checksum = (checksums or {}).get(name) if restart == "on_secret_change" else None
        do_restart = restart == "always" or (checksum is not None and dep.secrets_checksum != checksum)
        if scale and do_restart:
            action = "scale-and-restart"
        elif scale:
            action = "scale"
        elif do_restart:
            action = "restart"
        else:
            action = "none" if rolled_out(dep, after) else "wait"
        plan.append(Change(name, action, dep.replicas, after, bool(dep.annotations), checksum if do_restart else None))
    if problems:
        raise BatchError(problems)
    return plan


def simulate(change, dep, stamp=None):
    """The end state check mode predicts for one deployment (rolled out at its new size)."""
    annotations = dict(dep.annotations)
    if change.restart:
        annotations[RESTARTED_AT] = stamp
        if change.checksum:
            annotations[SECRETS_CHECKSUM] = change.checksum
    n = change.after
    return Deployment(dep.name, n, dep.generation, dep.generation, n, n, n, n, 0, annotations, dep.progress_reason,
                      dep.secret_refs)


def restart_stamp(now=None):
    """The restartedAt value (RFC 3339, microseconds: two restarts in one second still differ)."""
    return (now or datetime.now(timezone.utc)).isoformat(timespec="microseconds")


# ---- observe ----------------------------------------------------------------------------------

def _list(list_call, namespace):
    """Every item of a namespaced list, one call per LIST_PAGE items (continue tokens)."""
    token = None
    while True:
        page = list_call(namespace, limit=LIST_PAGE, _continue=token)
        yield from page.get("items") or []
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return


def list_deployments(api, namespace):
    """{name: Deployment} for the whole namespace."""
    return {dep.name: dep for dep in map(Deployment.from_api, _list(api.list_namespaced_deployment, namespace))}


def read_deployment(api, namespace, name):
    return Deployment.from_api(api.read_namespaced_deployment(name, namespace))


def list_secrets(api, namespace):
    """{name: Secret} for the whole namespace: only for secrets_checksum, never returned."""
    return {obj["metadata"]["name"]: obj for obj in _list(api.list_namespaced_secret, namespace)}


# ---- apply ------------------------------------------------------------------------------------

class ScaleConflict(Exception):
    """The deployment was resized by someone else since the plan was made."""


def _pointer(key):
    return key.replace("~", "~0").replace("/", "~1")


def scale_patch(change):
    """JSON patch for the scale subresource: test the replicas the plan saw, then set the new size.

    The test makes it compare-and-set on replicas alone: the API server applies a patch to the
    latest object (retrying its own write conflicts), so status updates in between do not matter,
    while a resize by someone else fails the test. A Scale omits spec.replicas when it is 0, so
    "was 0" is tested as an empty spec.
    """
    if change.before == 0:
        test = {"op": "test", "path": "/spec", "value": {}}
    else:
        test = {"op": "test", "path": "/spec/replicas", "value": change.before}
    return [test, {"op": "add", "path": "/spec/replicas", "value": change.after}]


def restart_patch(change, stamp):
    """JSON patch for a restart (and resize) of the deployment: test replicas, set the annotations.

    Only the restart annotations are added; the template's other annotations stay as they are.
    """
    ops = [{"op": "test", "path": "/spec/replicas", "value": change.before}]
    if change.after != change.before:
        ops.append({"op": "replace", "path": "/spec/replicas", "value": change.after})
    notes = {RESTARTED_AT: stamp}
    if change.checksum:
        notes[SECRETS_CHECKSUM] = change.checksum
    if change.template_annotations:
        ops += [{"op": "add", "path": "/spec/template/metadata/annotations/" + _pointer(k), "value": v}
                for k, v in notes.items()]
    else:
        ops.append({"op": "add", "path": "/spec/template/metadata/annotations", "value": notes})
    return ops


def apply_change(api, namespace, change, stamp=None, is_conflict=None):
    """Scale (scale subresource) or restart (the deployment) one deployment, compare-and-set on replicas.

    Returns True when written, False when it turned out to be done already. When the patch's test
    fails (is_conflict), the deployment is read again: still at the replicas the plan saw (e.g. its
    template annotations changed), the write is retried from what is there now; already at the
    new size (and no restart asked), nothing is left to do; else ScaleConflict, leaving it alone.
    """
    for attempt in range(CAS_ATTEMPTS):
        try:
            if change.restart:
                api.patch_namespaced_deployment(change.name, namespace, restart_patch(change, stamp), JSON_PATCH)
            else:
                api.patch_namespaced_deployment_scale(change.name, namespace, scale_patch(change), JSON_PATCH)
            return True
        except Exception as exc:  # pylint: disable=broad-except
            if is_conflict is None or not is_conflict(exc) or attempt == CAS_ATTEMPTS - 1:
                raise
        current = read_deployment(api, namespace, change.name)
        if change.restart and change.checksum and current.secrets_checksum == change.checksum:
            return False  # restarted onto this content meanwhile (another run)
        if current.replicas != change.before:
            if current.replicas == change.after and not change.restart:
                return False
            raise ScaleConflict("replicas changed from %d to %d by someone else since this run read them; left alone"
                                % (change.before, current.replicas))
        change = replace(change, template_annotations=bool(current.annotations))
    return False  # not reached


def apply_plan(api, namespace, plan, max_concurrency, stamp=None, is_conflict=None):
    """Apply every change concurrently. Returns (names written, {name: exception} for failures)."""
    todo = [c for c in plan if c.changed]
    outcomes = run_concurrently(lambda c: apply_change(api, namespace, c, stamp, is_conflict),
                                todo, max_concurrency)
    written = {change.name for change, wrote, exc in outcomes if exc is None and wrote}
    return written, {change.name: exc for change, _wrote, exc in outcomes if exc}
