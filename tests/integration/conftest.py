"""Integration fixtures: the embedded AWS world, seeded afresh for every test.

The world is the one scripts/with-world.sh started (AWS_ENDPOINT_URL); without it, one is
started in this process, so `pytest tests/integration` also works on its own (inside
scripts/in-netns.sh, loopback only).
"""

from __future__ import annotations

import os

import pytest

from tests.world.control import World

TEST_ENV = dict(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing",
                AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                AWS_EC2_METADATA_DISABLED="true", AWS_DEFAULT_REGION="eu-west-2")


@pytest.fixture(scope="session")
def world_endpoint():
    os.environ.update(TEST_ENV)
    if os.environ.get("AWS_ENDPOINT_URL"):
        yield os.environ["AWS_ENDPOINT_URL"]
        return
    from tests.world.server import start_world
    server = start_world(port=0)
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint
    try:
        yield server.endpoint
    finally:
        server.stop()
        del os.environ["AWS_ENDPOINT_URL"]


@pytest.fixture
def world(world_endpoint):
    """A freshly seeded world: 8 primaries in eu-west-1, 8 replicas in eu-west-2, lag 5 s."""
    w = World(world_endpoint)
    w.reset()
    info = w.seed(lag_seconds=5)
    w.configure(promotion_seconds=1)
    w.reset_calls()
    w.info = info
    return w


# ---- Kubernetes: the two embedded control planes (tests/k8s), for eks_scale_services ----------

@pytest.fixture(scope="session")
def k8s_cluster(world_endpoint):
    """The control planes scripts/with-world.sh --k8s started (KUBECONFIG next to its cluster.json),
    else two started here in a short run dir and stopped at the end; seeded either way."""
    import json
    import shutil
    import tempfile

    from tests.k8s import cluster
    from tests.k8s import seed as k8s_seed

    from .k8s import K8s

    kubeconfig = os.environ.get("KUBECONFIG", "")
    run_dir = os.path.dirname(kubeconfig)
    started = not (kubeconfig and os.path.exists(os.path.join(run_dir, "cluster.json")))
    if started:
        run_dir = tempfile.mkdtemp(prefix="lwk", dir="/tmp")
        kubeconfig = cluster.start(run_dir, verbose=False)["kubeconfig"]
    try:
        world_json = os.path.join(os.environ.get("LOMASHWOOD_RUN_DIR", "/nonexistent"), "world.json")
        if os.path.exists(world_json):
            with open(world_json, encoding="utf-8") as handle:
                info = json.load(handle)
        else:
            # Reset first: this session fixture starts before the first test that needs it, whatever the
            # tests before it left (a region still down, as test_region_probe's do, fails the seed's calls).
            world = World(world_endpoint)
            world.reset()
            info = world.seed(lag_seconds=5)
        k8s_seed.seed(kubeconfig, info)
        yield K8s(run_dir, kubeconfig, info)
    finally:
        if started:
            cluster.stop(run_dir, quiet=True)
            shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture
def k8s(k8s_cluster):
    """The seeded Kubernetes world, put back as seeded before and after the test (fast: a few
    dozen API calls): no node simulator holds or delays, eu-west-2 at 0 replicas, no restarts.
    Its calls() count from after the reset: only the test's own writes (and its modules')."""
    k8s_cluster.reset()
    yield k8s_cluster
    k8s_cluster.reset()


# ---- LocalStack (scripts/with-world.sh --localstack), for the S3 and Route 53 scenarios --------

@pytest.fixture(scope="session")
def localstack_endpoint():
    """LocalStack's endpoint (LOCALSTACK_ENDPOINT_URL); the test is skipped without it."""
    endpoint = os.environ.get("LOCALSTACK_ENDPOINT_URL")
    if not endpoint:
        pytest.skip("LOCALSTACK_ENDPOINT_URL is not set: run through scripts/with-world.sh --localstack")
    os.environ.update(TEST_ENV)
    yield endpoint
