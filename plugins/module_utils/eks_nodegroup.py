# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The core of eks_nodegroup_scale: observe an EKS managed node group, plan its size, apply.

Planning is pure (request + observed scaling -> plan or BatchError); observing and applying take
a boto3 EKS client (AnsibleAWSModule's, with the collection's retries).
"""

from __future__ import annotations

from dataclasses import dataclass

from .aws import is_error_code
from .batch import BatchError


@dataclass(frozen=True)
class NodeGroup:
    """What DescribeNodegroup says, reduced to what the plan needs."""

    name: str  # cluster/nodegroup
    status: str
    desired_size: int
    min_size: int
    max_size: int

    @classmethod
    def from_api(cls, group):
        scaling = group.get("scalingConfig") or {}
        return cls("%s/%s" % (group["clusterName"], group["nodegroupName"]), group.get("status", "UNKNOWN"),
                   scaling.get("desiredSize", 0), scaling.get("minSize", 0), scaling.get("maxSize", 0))

    def summary(self):
        return {"desired_size": self.desired_size, "min_size": self.min_size, "max_size": self.max_size,
                "status": self.status}


@dataclass(frozen=True)
class ScaleNodeGroup:
    """Set a node group's desired size (action scale), or nothing to do (none)."""

    name: str
    cluster_name: str
    nodegroup_name: str
    action: str
    before: int
    after: int

    @property
    def changed(self):
        return self.action == "scale"

    def as_dict(self):
        return {"name": self.name, "action": self.action, "before": self.before, "after": self.after}


def check_request(cluster_name, nodegroup_name, desired_size):
    problems = []
    for option, value in (("cluster_name", cluster_name), ("nodegroup_name", nodegroup_name)):
        if not value or not value.strip():
            problems.append("%s is empty" % option)
    if desired_size < 0:
        problems.append("desired_size must be at least 0, got %d" % desired_size)
    if problems:
        raise BatchError(problems)


def plan_nodegroup(cluster_name, nodegroup_name, desired_size, group, region=""):
    """Scale to desired_size; refuse a missing node group, or a size outside its minSize..maxSize (EKS would)."""
    label = "%s/%s" % (cluster_name, nodegroup_name)
    if group is None:
        raise BatchError(["no node group %r in EKS cluster %r%s" % (nodegroup_name, cluster_name,
                                                                    " in %s" % region if region else "")])
    if not group.min_size <= desired_size <= group.max_size:
        raise BatchError(["desired_size=%d is outside %s's minSize..maxSize (%d..%d)"
                          % (desired_size, label, group.min_size, group.max_size)])
    action = "none" if desired_size == group.desired_size else "scale"
    return [ScaleNodeGroup(label, cluster_name, nodegroup_name, action, group.desired_size, desired_size)]


def describe_nodegroup(eks, cluster_name, nodegroup_name):
    """{cluster/nodegroup: NodeGroup}, empty when the cluster or node group does not exist."""
    try:
        group = eks.describe_nodegroup(aws_retry=True, clusterName=cluster_name, nodegroupName=nodegroup_name)
    except Exception as exc:  # pylint: disable=broad-except
        if is_error_code(exc, "ResourceNotFoundException"):
            return {}
        raise
    found = NodeGroup.from_api(group["nodegroup"])
    return {found.name: found}


def is_scaled(action, group):
    """The readiness predicate: ACTIVE at the new desired size (EKS applies an update asynchronously)."""
    return group is not None and group.status == "ACTIVE" and group.desired_size == action.after


def scale_nodegroup(eks, action):
    """UpdateNodegroupConfig; returns the update id."""
    update = eks.update_nodegroup_config(aws_retry=True, clusterName=action.cluster_name,
                                         nodegroupName=action.nodegroup_name,
                                         scalingConfig={"desiredSize": action.after})
    return (update.get("update") or {}).get("id")
