#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: eks_nodegroup_scale
short_description: Set the desired size of an EKS managed node group
version_added: 0.1.0
description:
  - Sets the desired number of nodes of an EKS managed node group (C(UpdateNodegroupConfig)), for
    example the standby cluster's workers before its services scale up on failover, and back on failback.
  - Before anything is changed, the node group must exist and the size must be within its minimum and
    maximum; the error names the cluster, node group and bounds.
  - Idempotent; check mode and C(--diff) show the size before and after. With I(wait), waits until the
    node group is C(ACTIVE) at the new size (EKS applies the update asynchronously).
author:
  - Lomash Wood platform team (@lomashwood)
options:
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
  wait:
    description:
      - Wait until the node group is C(ACTIVE) at I(desired_size).
      - On failover, C(false) lets the services scale while the nodes come (their pods wait for them).
    type: bool
    default: true
  poll_interval:
    description: Seconds between two C(DescribeNodegroup) calls while waiting.
    type: float
    default: 15
extends_documentation_fragment:
  - lomashwood.multiregion.batch
  - lomashwood.multiregion.attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Give the standby cluster its production nodes (failover), without waiting for them
  lomashwood.multiregion.eks_nodegroup_scale:
    region: eu-west-2
    cluster_name: lomash-wood-eu-west-2
    nodegroup_name: lomash-wood-workers
    desired_size: 3
    wait: false

- name: Back to the resting size (failback), and wait
  lomashwood.multiregion.eks_nodegroup_scale:
    region: eu-west-2
    cluster_name: lomash-wood-eu-west-2
    nodegroup_name: lomash-wood-workers
    desired_size: 1
"""

RETURN = r"""
extends_documentation_fragment:
  - lomashwood.multiregion.batch
changed:
  description: Whether the size was (or, in check mode, would be) changed.
  returned: always
  type: bool
results:
  description: One entry, the node group.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: C(cluster/nodegroup).
      type: str
      sample: lomash-wood-eu-west-2/lomash-wood-workers
    action:
      description: C(scale) or C(none).
      type: str
    changed:
      description: Whether this run changed it.
      type: bool
    before:
      description: Desired, minimum and maximum size and status before the run.
      type: dict
      sample: {"desired_size": 1, "min_size": 1, "max_size": 6, "status": "ACTIVE"}
    after:
      description: The same at the end of the run (in check mode, the predicted end state).
      type: dict
      sample: {"desired_size": 3, "min_size": 1, "max_size": 6, "status": "ACTIVE"}
    update_id:
      description: The EKS update's id, when this run started one.
      type: str
    seconds:
      description: Seconds until it was C(ACTIVE) at the new size; null when not waited for.
      type: float
    error:
      description: Why it failed, or null.
      type: str
plan:
  description: The actions decided before anything was changed.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "lomash-wood-eu-west-2/lomash-wood-workers", "action": "scale", "before": 1, "after": 3}]
"""

from dataclasses import replace

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.lomashwood.multiregion.plugins.module_utils import aws
from ansible_collections.lomashwood.multiregion.plugins.module_utils import eks_nodegroup as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import (
    Adapter, ApiCallCounter, batch_argument_spec, diff_of, execute, run_concurrently)


class NodeGroupScaling(Adapter):
    """eks_nodegroup_scale for the module flow (module_utils/batch.py)."""

    noun = "node group"

    def __init__(self, module, counter):
        p = self.params = module.params
        core.check_request(p["cluster_name"], p["nodegroup_name"], p["desired_size"])
        self.region = module.region
        self.eks = aws.client(module, "eks", counter)
        self.update_ids = {}

    def observe(self):
        return self.poll()

    def plan(self, observed):
        p = self.params
        group = observed.get("%s/%s" % (p["cluster_name"], p["nodegroup_name"]))
        return core.plan_nodegroup(p["cluster_name"], p["nodegroup_name"], p["desired_size"], group, self.region)

    def simulate(self, plan, observed):
        return {a.name: replace(observed[a.name], desired_size=a.after) for a in plan}

    def apply(self, plan):
        outcomes = run_concurrently(lambda a: core.scale_nodegroup(self.eks, a), [a for a in plan if a.changed],
                                    self.params["max_concurrency"])
        self.update_ids = {a.name: update_id for a, update_id, exc in outcomes if exc is None}
        return plan, {a.name: exc for a, _update_id, exc in outcomes if exc}

    def poll(self):
        return core.describe_nodegroup(self.eks, self.params["cluster_name"], self.params["nodegroup_name"])

    def is_done(self, action, state):
        return core.is_scaled(action, state)

    def progress(self, name, state):
        return "%s at %d" % (state.status, state.desired_size) if state else "not found"

    def summarise(self, plan, before, after, done, failures, check_mode):
        results = [dict(
            name=a.name, action=a.action, changed=a.changed and a.name not in failures,
            before=before[a.name].summary(), after=(after.get(a.name) or before[a.name]).summary(),
            update_id=self.update_ids.get(a.name), seconds=done.get(a.name),
            error=str(failures[a.name]) if a.name in failures else None,
        ) for a in plan]
        return dict(results=results, diff=diff_of(results, lambda s: {"desired_size": s["desired_size"]}))


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        nodegroup_name=dict(type="str", required=True),
        desired_size=dict(type="int", required=True),
        **batch_argument_spec(poll_interval=15),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    if not module.region:
        module.fail_json(msg="region is required (the EKS cluster's region)")
    counter = ApiCallCounter()
    execute(module, lambda m: NodeGroupScaling(m, counter), counter)


if __name__ == "__main__":
    main()
