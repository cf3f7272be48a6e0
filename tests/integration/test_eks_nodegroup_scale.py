"""eks_nodegroup_scale against the embedded AWS world, through the ansible CLI (four-step idiom)."""

from __future__ import annotations

import pytest

from .runner import run_module, run_playbook

MODULE = "eks_nodegroup_scale"
GROUP = dict(region="eu-west-2", cluster_name="lomash-wood-eu-west-2", nodegroup_name="lomash-wood-workers",
             poll_interval=0.2, wait_timeout=30)


def desired(world):
    eks = world.client("eks", "eu-west-2")
    return eks.describe_nodegroup(clusterName="lomash-wood-eu-west-2",
                                  nodegroupName="lomash-wood-workers")["nodegroup"]["scalingConfig"]["desiredSize"]


def updates(world):
    return world.calls()["by_operation"].get("eks:UpdateNodegroupConfig", 0)


def test_check_apply_check_apply(world):
    assert desired(world) == 1  # the standby's resting size
    check = run_module(MODULE, dict(GROUP, desired_size=3), check=True, diff=True)
    assert not check["failed"] and check["changed"] is True
    assert check["plan"] == [{"name": "lomash-wood-eu-west-2/lomash-wood-workers", "action": "scale", "before": 1, "after": 3}]
    assert "     lomash-wood-eu-west-2/lomash-wood-workers:\n-        desired_size: 1\n+        desired_size: 3\n" in check["_stdout"]
    assert desired(world) == 1 and updates(world) == 0

    res = run_module(MODULE, dict(GROUP, desired_size=3))
    assert not res["failed"], res["msg"]
    entry = res["results"][0]
    assert res["changed"] is True and entry["update_id"] and entry["after"]["desired_size"] == 3
    assert entry["seconds"] is not None  # waited until ACTIVE at 3
    assert desired(world) == 3 and updates(world) == 1

    world.reset_calls()
    again_check = run_module(MODULE, dict(GROUP, desired_size=3), check=True)
    again = run_module(MODULE, dict(GROUP, desired_size=3))
    assert again_check["changed"] is False and again["changed"] is False
    assert again["results"][0]["action"] == "none" and again["api_calls"] == {"DescribeNodegroup": 1}
    assert updates(world) == 0


def test_without_wait_it_returns_after_the_update(world):
    res = run_module(MODULE, dict(GROUP, desired_size=2, wait=False))
    assert not res["failed"] and res["results"][0]["seconds"] is None and desired(world) == 2


@pytest.mark.parametrize("args, needle", [
    ({"desired_size": 9}, "desired_size=9 is outside lomash-wood-eu-west-2/lomash-wood-workers's minSize..maxSize (1..6)"),
    ({"desired_size": 3, "cluster_name": "lomash-wood-eu-west-9"},
     "no node group 'lomash-wood-workers' in EKS cluster 'lomash-wood-eu-west-9' in eu-west-2"),
    ({"desired_size": -1}, "desired_size must be at least 0, got -1"),
    ({"desired_size": 3, "max_concurrency": 0}, "max_concurrency must be at least 1, got 0"),
])
def test_bad_input_is_named_and_nothing_changes(world, args, needle):
    res = run_module(MODULE, dict(GROUP, **args))
    assert res["failed"] and needle in res["msg"], res["msg"]
    assert desired(world) == 1 and updates(world) == 0


def test_module_defaults_group_sets_region_and_endpoint_once(world, tmp_path):
    playbook = tmp_path / "play.yml"
    playbook.write_text("""
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/lomashwood.multiregion.aws:
      region: eu-west-2
  tasks:
    - lomashwood.multiregion.eks_nodegroup_scale:
        cluster_name: lomash-wood-eu-west-2
        nodegroup_name: lomash-wood-workers
        desired_size: 4
        poll_interval: 0.2
""")
    proc = run_playbook(str(playbook), inventory="localhost,", extra_vars={"ansible_connection": "local"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert desired(world) == 4
