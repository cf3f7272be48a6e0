"""The pure core of eks_nodegroup_scale: plan and readiness; describe on a fake client."""

import pytest

from ansible_collections.lomashwood.multiregion.plugins.module_utils import eks_nodegroup as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import BatchError

from fake_aws import fake_client

GROUP = core.NodeGroup("lomash-wood-eu-west-2/lomash-wood-workers", "ACTIVE", 1, 1, 6)


@pytest.mark.parametrize("desired, action", [(3, "scale"), (1, "none"), (6, "scale")])
def test_plan_nodegroup(desired, action):
    [change] = core.plan_nodegroup("lomash-wood-eu-west-2", "lomash-wood-workers", desired, GROUP)
    assert (change.action, change.before, change.after, change.changed) == (action, 1, desired, action == "scale")
    assert change.as_dict() == {"name": "lomash-wood-eu-west-2/lomash-wood-workers", "action": action,
                                "before": 1, "after": desired}


@pytest.mark.parametrize("desired", [0, 7])
def test_plan_nodegroup_refuses_a_size_outside_its_bounds(desired):
    with pytest.raises(BatchError, match=r"desired_size=%d is outside lomash-wood-eu-west-2/lomash-wood-workers's "
                                         r"minSize..maxSize \(1..6\)" % desired):
        core.plan_nodegroup("lomash-wood-eu-west-2", "lomash-wood-workers", desired, GROUP)


def test_plan_nodegroup_names_what_is_missing():
    with pytest.raises(BatchError, match="no node group 'workers' in EKS cluster 'c' in eu-west-9"):
        core.plan_nodegroup("c", "workers", 3, None, "eu-west-9")


@pytest.mark.parametrize("cluster, group, size, named", [
    ("", "w", 1, "cluster_name is empty"), ("c", " ", 1, "nodegroup_name is empty"),
    ("c", "w", -1, "desired_size must be at least 0, got -1"),
])
def test_check_request_names_the_bad_value(cluster, group, size, named):
    with pytest.raises(BatchError, match=named):
        core.check_request(cluster, group, size)


def test_describe_nodegroup_reads_scaling_and_treats_not_found_as_absent():
    def describe(clusterName, nodegroupName):
        if clusterName != "c":
            from botocore.exceptions import ClientError
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "No cluster found"}},
                              "DescribeNodegroup")
        return {"nodegroup": {"clusterName": "c", "nodegroupName": nodegroupName, "status": "UPDATING",
                              "scalingConfig": {"minSize": 1, "maxSize": 6, "desiredSize": 3}}}
    eks = fake_client("eks", describe_nodegroup=describe)
    assert core.describe_nodegroup(eks, "c", "w") == {"c/w": core.NodeGroup("c/w", "UPDATING", 3, 1, 6)}
    assert core.describe_nodegroup(eks, "nope", "w") == {}


@pytest.mark.parametrize("state, done", [
    (core.NodeGroup("c/w", "ACTIVE", 3, 1, 6), True),
    (core.NodeGroup("c/w", "UPDATING", 3, 1, 6), False),
    (core.NodeGroup("c/w", "ACTIVE", 1, 1, 6), False),
    (None, False),
])
def test_is_scaled(state, done):
    action = core.ScaleNodeGroup("c/w", "c", "w", "scale", 1, 3)
    assert core.is_scaled(action, state) is done
