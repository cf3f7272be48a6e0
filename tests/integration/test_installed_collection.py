"""The collection as users get it: `ansible-galaxy collection build`, the tarball installed into a clean
path, and the demo's playbook run from that installed copy (failover.yml --check --diff, eu-west-1 down),
with only the dependency collections beside it. A file the build leaves out (build_ignore, a symlink,
a template) fails here, not in a user's hands."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import tarfile
import uuid

import pytest
import yaml

from .runner import BIN, ROOT, ansible_env, mutating
from .test_rds_promote_batch import no_promotion

DEPENDENCIES = ("amazon/aws", "kubernetes/core", "community/general", "community/library_inventory_filtering_v1")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(collections path, installed collection dir, tarball) with a clean ansible.cfg beside it."""
    work = tmp_path_factory.mktemp("installed")
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(work / "dist"), ROOT],
                   check=True, capture_output=True, text=True, cwd=str(work))
    (tarball,) = glob.glob(str(work / "dist" / "lomashwood-multiregion-*.tar.gz"))
    # The dependencies, and nothing else, from the tree scripts/setup.sh made (Galaxy is unreachable).
    deps = work / "deps" / "ansible_collections"
    for dep in DEPENDENCIES:
        source = os.path.join(ROOT, "collections", "ansible_collections", dep)
        if os.path.isdir(source):
            (deps / dep).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(source, deps / dep)
    collections_path = "%s:%s" % (work / "installed", work / "deps")
    # The project's ansible.cfg (its callbacks too, loaded from the installed copy), less the paths into the work tree.
    with open(os.path.join(ROOT, "ansible.cfg"), encoding="utf-8") as handle:
        cfg = [line for line in handle if line.split("=")[0].strip() not in ("collections_path", "collections_paths", "inventory")]
    (work / "ansible.cfg").write_text("".join(cfg))
    env = ansible_env({"ANSIBLE_CONFIG": str(work / "ansible.cfg"), "ANSIBLE_COLLECTIONS_PATH": collections_path,
                       "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false"})
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--no-deps", "-p", str(work / "installed"),
                    tarball], check=True, capture_output=True, text=True, cwd=str(work), env=env)
    return work, work / "installed" / "ansible_collections" / "lomashwood" / "multiregion", tarball, env


def test_the_tarball_holds_the_collection_and_no_local_state(installed):
    _work, _path, tarball, _env = installed
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    tops = {name.split("/", 1)[0] for name in names}
    for needed in ("plugins", "roles", "playbooks", "inventories", "meta", "README.md", "MANIFEST.json"):
        assert needed in tops, needed
    for local in (".venv", ".venv-localstack", ".venv-oldest", "collections", "reports", "run", ".ansible", ".pytest_cache"):
        assert local not in tops, local
    assert not [n for n in names if "__pycache__" in n or n.endswith(".tar.gz")]
    assert os.path.getsize(tarball) < 5 * 1024 * 1024


def test_ansible_finds_the_installed_copy_not_the_work_tree(installed):
    work, path, _tarball, env = installed
    listing = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "list", "lomashwood.multiregion", "--format", "json"],
                             check=True, capture_output=True, text=True, cwd=str(work), env=env).stdout
    found = json.loads(listing)
    assert list(found) == [str(path.parent.parent)], found
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        assert found[str(path.parent.parent)]["lomashwood.multiregion"]["version"] == yaml.safe_load(handle)["version"]


@pytest.fixture
def platform(world, k8s):
    """As test_failover_playbook's: both clusters seeded, eu-west-1 down (what a failover is for)."""
    kubeconfig = os.environ.get("KUBECONFIG")
    if not kubeconfig:
        pytest.skip("needs the Kubernetes control planes: scripts/with-world.sh --k8s")
    from tests.k8s.seed import seed
    seed(kubeconfig, world.info)
    world.region_down("eu-west-1")
    world.configure(resolver_ttl_seconds=1)
    world.reset_calls()
    k8s.reset_calls()
    world.k8s = k8s
    return world


def test_the_demo_playbook_runs_from_the_installed_copy(installed, platform, tmp_path):
    """failover.yml --check --diff by its collection name, the installed copy's local inventory, run from
    outside the work tree: every role, task file and template it loads must be in the tarball."""
    work, path, _tarball, env = installed
    env = dict(env, LOMASHWOOD_REPORT_DIR=str(tmp_path))
    incident = "INC-" + uuid.uuid4().hex[:8]
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "lomashwood.multiregion.failover",
                           "-i", str(path / "inventories" / "local"), "-e", json.dumps({"dr_incident_id": incident}),
                           "--check", "--diff"],
                          cwd=str(work), env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "would-promote" in proc.stdout  # the plan, from the installed modules
    assert mutating(platform.calls(), platform.k8s.calls()) == {} and no_promotion(platform)
    (report,) = glob.glob(str(tmp_path / "failover-*.json"))
    with open(report, encoding="utf-8") as handle:
        assert json.load(handle)["incident_id"] == incident
    # The callbacks ansible.cfg enables loaded from the installed copy (a missing one is only a warning).
    assert "callback" not in proc.stderr.lower(), proc.stderr[-2000:]
    # The roles and modules ran from the installed copy, not from the work tree.
    assert ROOT + "/roles" not in proc.stdout and ROOT + "/plugins" not in proc.stdout
