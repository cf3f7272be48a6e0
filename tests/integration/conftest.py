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
