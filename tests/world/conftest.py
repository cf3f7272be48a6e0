"""Fixtures of the world tests: one in-process world for the session (moto's state, and the
edge's servers, are per process), reset around every test; the two Kubernetes control planes
for the regional-service tests."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from tests.world import World, start_world


@pytest.fixture(scope="session")
def server():
    srv = start_world()
    yield srv
    srv.stop()


@pytest.fixture
def world(server):
    w = World(server.endpoint)
    w.reset()
    yield w
    w.configure(kubeconfig=None)  # kept across resets: a test that wires Kubernetes unwires it
    w.reset()


@pytest.fixture(scope="session")
def k8s_cluster(server):
    """The control planes scripts/with-world.sh --k8s started (KUBECONFIG next to its cluster.json),
    else two started here; seeded (9 deployments: 3 replicas in eu-west-1, 0 in eu-west-2)."""
    from tests.integration.k8s import K8s
    from tests.k8s import cluster
    from tests.k8s import seed as k8s_seed

    kubeconfig = os.environ.get("KUBECONFIG", "")
    run_dir = os.path.dirname(kubeconfig)
    started = not (kubeconfig and os.path.exists(os.path.join(run_dir, "cluster.json")))
    if started:
        run_dir = tempfile.mkdtemp(prefix="lwk", dir="/tmp")
        kubeconfig = cluster.start(run_dir, verbose=False)["kubeconfig"]
    try:
        world = World(server.endpoint)
        world.reset()
        info = world.seed(lag_seconds=5)  # the Secrets point at the seeded RDS primaries
        k8s_seed.seed(kubeconfig, info)
        yield K8s(run_dir, kubeconfig, info)
    finally:
        if started:
            cluster.stop(run_dir, quiet=True)
            shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture
def k8s(k8s_cluster):
    """The seeded Kubernetes world, put back as seeded before and after the test."""
    k8s_cluster.reset()
    yield k8s_cluster
    k8s_cluster.reset()
