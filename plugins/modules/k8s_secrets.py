#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_secrets
short_description: Ensure a batch of Kubernetes Secrets hold the given data keys, writing only what differs
version_added: 0.1.0
description:
  - Ensures that each named Secret of a namespace holds the given string values under the given keys (for
    example C(DB_HOST) and C(DB_PORT) of the Lomash Wood services' database Secrets, pointed at the standby
    databases on failover). A merge. The given keys are set, the Secret's other keys (a password, say) are
    left as they are.
  - Reads the namespace's Secrets with one list call, compares, and sends a merge patch of C(data) only to
    the Secrets whose given keys differ, with only the keys that differ, all at the same time (bounded by
    I(max_concurrency)). A rerun, or a run where every value is right already, makes no write at all.
  - Before anything is changed, every value is checked. An invalid or duplicate Secret name, an invalid data
    key, a value that is not a string, a Secret that does not exist (this module does not create Secrets), an
    immutable Secret whose keys would change, a context that is not in the kubeconfig or an API server that
    cannot be reached refuses the whole batch, and the error names the Secret or key (never a value).
  - Secret values never reach the output. I(secrets) values are C(no_log), and results, plan and C(--diff)
    carry key names with the markers "(set)" and "(changed)" only.
  - Deployments that read the Secrets are restarted onto the new content by
    M(lomashwood.multiregion.eks_scale_services) with C(restart=on_secret_change).
author:
  - Lomash Wood platform team (@lomashwood)
options:
  namespace:
    description:
      - The namespace the Secrets live in.
  secrets:
    description:
      - The Secrets and the keys each must hold.
      - The values in I(data) are never logged (C(no_log)); the names are shown.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The Secret's name. It must exist in I(namespace).
        type: str
        required: true
      data:
        description:
          - Key to value. Each value is a string (an integer is taken as its digits), written base64-encoded to
            the Secret's C(data) when it differs from what the Secret holds.
          - Keys of the Secret that are not given are left alone.
        type: dict
        required: true
  require_keys:
    description:
      - Keys every Secret of I(secrets) must hold (with a non-empty value), or be given in its I(data). A Secret
        that lacks one refuses the whole batch, naming the Secret and the keys, before anything is written.
      - With I(require_keys), a Secret may be given an empty I(data) (C({})) to be checked only.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - lomashwood.multiregion.k8s_connection
  - kubernetes.core.k8s_auth_options
  - lomashwood.multiregion.batch
  - lomashwood.multiregion.attributes
notes:
  - A Secret is done once the API server has answered its patch, so there is nothing to wait for.
    I(wait), I(wait_timeout) and I(poll_interval) are accepted as by the collection's other modules, and
    I(results) shows the Secrets as the API server answered the patches, without another read.
  - Each write is a JSON merge patch (C(application/merge-patch+json)) of C(data) with only the keys that
    differ. Sending it twice (a retry after a connection error) gives the same Secret, and two runs writing
    the same keys at once do not conflict; the last one wins.
  - API calls are counted by operation (C(list_namespaced_secret), C(patch_namespaced_secret)) in
    I(api_calls); check mode and a rerun after success make no C(patch_*) call.
  - When a write fails, the Secrets already written keep their change and the module fails naming the
    others; run it again to finish.
  - As with every C(no_log) value, Ansible masks any occurrence of a given value in the module's output, so a
    very short value (C(1)) can blank unrelated text.
seealso:
  - module: kubernetes.core.k8s
  - module: lomashwood.multiregion.eks_scale_services
"""

EXAMPLES = r"""
- name: Point the services' database Secrets at the standby databases (failover)
  lomashwood.multiregion.k8s_secrets:
    context: lomash-wood-eu-west-2
    namespace: lomash-wood
    secrets:
      - name: auth-service-db
        data:
          DB_HOST: lomash-auth-prod-replica.abcdefgh.eu-west-2.rds.amazonaws.com
          DB_PORT: "5432"
      - name: order-payment-service-db
        data:
          DB_HOST: lomash-orders-prod-replica.abcdefgh.eu-west-2.rds.amazonaws.com
          DB_PORT: "5432"
  no_log: true
  register: repointed

- name: Show which Secrets and keys changed (names only)
  ansible.builtin.debug:
    msg: "{{ repointed.results | selectattr('changed') | items2dict(key_name='name', value_name='keys_changed') }}"

- name: Rehearse, changing nothing (shows which keys would change, never a value)
  lomashwood.multiregion.k8s_secrets:
    context: lomash-wood-eu-west-2
    secrets:
      - name: auth-service-db
        data:
          DB_HOST: lomash-auth-prod-replica.abcdefgh.eu-west-2.rds.amazonaws.com
  check_mode: true
  diff: true

- name: Check, before a failover changes anything, that each Secret holds its credentials (writes nothing)
  lomashwood.multiregion.k8s_secrets:
    context: lomash-wood-eu-west-2
    require_keys: [DB_NAME, DB_USER, DB_PASSWORD]
    secrets:
      - {name: auth-service-db, data: {}}
      - {name: order-payment-service-db, data: {}}
  check_mode: true

- name: Set the connection once for this collection and kubernetes.core
  module_defaults:
    group/lomashwood.multiregion.k8s:
      kubeconfig: "{{ kubeconfig_path }}"
      context: lomash-wood-eu-west-2
  block:
    - name: Rotate one key
      lomashwood.multiregion.k8s_secrets:
        secrets:
          - name: auth-service-db
            data:
              DB_PASSWORD: "{{ new_password }}"
"""

RETURN = r"""
extends_documentation_fragment:
  - lomashwood.multiregion.batch
changed:
  description: Whether any Secret was (or, in check mode, would be) changed.
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
  description: One entry per requested Secret, in request order. Key names and markers only, never a value.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Secret name.
      type: str
      sample: auth-service-db
    action:
      description: C(update) (some given keys differ) or C(none).
      type: str
    changed:
      description: Whether this run wrote to it (in check mode, would).
      type: bool
    keys_changed:
      description: The names of the given keys whose values differed (or were missing), sorted.
      type: list
      elements: str
      sample: [DB_HOST]
    before:
      description: The given keys the Secret held before the run, each as "(set)".
      type: dict
      sample: {"DB_HOST": "(set)", "DB_PORT": "(set)"}
    after:
      description: >-
        The given keys at the end of the run (in check mode, predicted), each "(set)" when unchanged or
        "(changed)" when it now holds another value than before (or is new).
      type: dict
      sample: {"DB_HOST": "(changed)", "DB_PORT": "(set)"}
    seconds:
      description: Seconds from the start of the run until it was written (or found right); null in check mode.
      type: float
    error:
      description: Why its write failed, or null.
      type: str
plan:
  description: The actions decided before anything was changed (what check mode shows).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "auth-service-db", "action": "update", "keys_changed": ["DB_HOST"]}]
diff:
  description: The given keys of each Secret with their markers, before and after, for C(--diff).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.lomashwood.multiregion.plugins.module_utils import _k8s_client as k8s
from ansible_collections.lomashwood.multiregion.plugins.module_utils import k8s_secrets as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import (
    Adapter, ApiCallCounter, BatchError, batch_argument_spec, diff_of, execute)
from ansible_collections.lomashwood.multiregion.plugins.module_utils.k8s_scale import check_namespace


class Secrets(Adapter):
    """k8s_secrets for the module flow (module_utils/batch.py)."""

    noun = "Secret"

    def __init__(self, module, counter):
        p = self.params = module.params
        # The request alone, before any API call.
        self.require_keys = tuple(p["require_keys"] or ())
        self.wanted = core.requested_secrets(p["secrets"], self.require_keys)
        self.namespace = check_namespace(p["namespace"])
        try:
            self.api, self.target = k8s.connect(p, counter, p["max_concurrency"])
        except k8s.K8sConnectionError as exc:
            raise BatchError([str(exc)])
        self.observed = {}

    def observe(self):
        try:
            self.observed = core.observe(self.api, self.namespace)
        except Exception as exc:  # pylint: disable=broad-except
            if k8s.is_status(exc, 401, 403):
                raise BatchError(["not allowed to list Secrets in namespace %s with %s: %s"
                                  % (self.namespace, self.target, k8s.describe_error(exc))])
            raise BatchError(["cannot reach the Kubernetes API of %s: %s" % (self.target, k8s.describe_error(exc))])
        return self.observed

    def plan(self, observed):
        return core.plan_secrets(self.wanted, observed, self.namespace, self.target, self.require_keys)

    def simulate(self, plan, observed):
        return {c.name: core.simulate(c, observed[c.name]) for c in plan}

    def apply(self, plan):
        written, failures = core.apply_plan(self.api, self.namespace, plan, self.params["max_concurrency"])
        self.observed = dict(self.observed, **written)  # as the API server answered the patches
        return plan, failures

    def poll(self):
        # Nothing to wait for: the end state is what the patches returned (no API call).
        return self.observed

    def is_done(self, action, state):
        return True

    def describe_error(self, exc):
        return k8s.describe_error(exc)

    def summarise(self, plan, before, after, done, failures, check_mode):
        results = []
        for change in plan:
            was, now = before[change.name], after.get(change.name)
            results.append(dict(
                name=change.name, action=change.action,
                changed=change.changed and change.name not in failures,
                keys_changed=list(change.keys_changed),
                before=core.view(change, was), after=core.view(change, was, now) if now is not None else None,
                seconds=None if check_mode else done.get(change.name),
                error=self.describe_error(failures[change.name]) if change.name in failures else None,
            ))
        diff = diff_of(results, key="secrets", namespace=self.namespace)
        return dict(results=results, diff=diff, namespace=self.namespace, target=self.target)


def main():
    argument_spec = dict(
        # no_log on the values only: on the whole list it would also mask the Secret names in the result.
        secrets=dict(type="list", elements="dict", required=True, no_log=False, options=dict(
            name=dict(type="str", required=True),
            data=dict(type="dict", required=True, no_log=True),
        )),
        require_keys=dict(type="list", elements="str", no_log=False, default=[]),
        namespace=dict(type="str", default="lomash-wood"),
        **batch_argument_spec(),
    )
    argument_spec.update(k8s.AUTH_ARG_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not k8s.HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(k8s.KUBERNETES_IMPORT_ERROR))
    counter = ApiCallCounter()
    execute(module, lambda m: Secrets(m, counter), counter)


if __name__ == "__main__":
    main()
