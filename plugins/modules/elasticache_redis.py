#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: elasticache_redis
short_description: The standby region's Redis for sessions, created on failover and deleted on failback
version_added: 0.1.0
description:
  - Sessions live in ElastiCache Redis and are not replicated across regions, so at rest the
    standby region has none. On failover I(state=present) creates a Redis replication group
    (cluster mode disabled, one primary and I(num_cache_clusters)-1 replicas), waits until it is
    C(available) and returns its primary endpoint, the address the services use. Sessions held
    in the primary region are lost, as the runbook accepts (within the auth RPO).
  - On failback I(state=absent) deletes it ("Redis in eu-west-2 stopped"), optionally keeping
    a final snapshot (I(final_snapshot_name)), and waits until it is gone.
  - A replication group rather than a single cache cluster, because its primary endpoint stays
    the same when ElastiCache replaces or fails over a node, and it supports Multi-AZ, automatic
    failover (both on with two or more nodes) and in-transit encryption with an AUTH token.
  - Idempotent. An existing group that matches is left alone (no call), one being created or
    deleted is waited on. An existing group that differs (node type, node count, encryption,
    AUTH token) is refused, naming the differences; this module does not resize a running group.
    The engine version of an existing group is not compared (C(DescribeReplicationGroups) does
    not return it).
  - Before anything is changed the request is checked, and each problem named; the subnet group,
    security groups and a final snapshot name already taken are looked up first.
author:
  - Lomash Wood platform team (@lomashwood)
options:
  replication_group_id:
    description:
      - The replication group's id (1-40 lower-case letters, digits or hyphens).
    type: str
    required: true
    aliases: [id, name]
  state:
    description:
      - C(present) creates it if it is missing and waits until it is available; C(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  node_type:
    description:
      - Cache node type, for example C(cache.r6g.large). Required with I(state=present).
    type: str
  engine_version:
    description:
      - Redis version, for example C(7.1). Unset takes ElastiCache's default.
    type: str
  num_cache_clusters:
    description:
      - Nodes in the shard, 1 to 6, one primary and the rest replicas. With 2 or more, Multi-AZ
        and automatic failover are on.
    type: int
    default: 1
  port:
    description:
      - Port Redis listens on.
    type: int
    default: 6379
  description:
    description:
      - The replication group's description.
    type: str
    default: Lomash Wood sessions
  cache_subnet_group:
    description:
      - Cache subnet group (the standby VPC's private subnets). Unset uses the default VPC's.
    type: str
  security_group_ids:
    description:
      - VPC security groups for the nodes.
    type: list
    elements: str
  cache_parameter_group:
    description:
      - Cache parameter group. Unset uses the engine's default.
    type: str
  transit_encryption:
    description:
      - In-transit encryption (TLS). Required for I(auth_token).
    type: bool
    default: false
  at_rest_encryption:
    description:
      - Encrypt the data at rest.
    type: bool
    default: true
  auth_token:
    description:
      - Redis AUTH token (16-128 printable characters other than @, " and /). Never logged or returned.
    type: str
  tags:
    description:
      - Tags for the new replication group.
    type: dict
  final_snapshot_name:
    description:
      - With I(state=absent), the name of a snapshot ElastiCache takes just before deleting the group.
        A name already taken is refused before anything is deleted. Unset deletes without one
        (sessions are disposable).
    type: str
  wait:
    description:
      - Wait until the group is available (I(state=present)) or gone (I(state=absent)).
      - One C(DescribeReplicationGroups) per I(poll_interval).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait before failing, counted from the start of the run; the failure says the group's status.
    type: int
    default: 1800
  poll_interval:
    description:
      - Seconds between two polls of the group.
    type: float
    default: 10
  progress_file:
    description:
      - A file the group's status is written to after every poll while it waits (JSON, replaced
        atomically). The collection's action plugin sets it itself when the task runs on the
        controller, and prints a line from it while the module waits.
    type: path
extends_documentation_fragment:
  - lomashwood.multiregion.attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Creating a replication group takes several minutes on AWS, deleting one a few; the module
    returns the status timeline it observed (C(timeline)).
"""

EXAMPLES = r"""
- name: Start the standby's Redis for sessions (failover)
  lomashwood.multiregion.elasticache_redis:
    region: eu-west-2
    replication_group_id: lomash-sessions
    node_type: cache.r6g.large
    engine_version: "7.1"
    num_cache_clusters: 2
    cache_subnet_group: lomash-wood-redis
    security_group_ids: [sg-0123456789abcdef0]
    transit_encryption: true
    auth_token: "{{ redis_auth_token }}"
  register: redis

- name: The address the services get
  ansible.builtin.debug:
    msg: "rediss://{{ redis.endpoint.address }}:{{ redis.endpoint.port }}"

- name: Stop Redis in eu-west-2 (failback)
  lomashwood.multiregion.elasticache_redis:
    region: eu-west-2
    replication_group_id: lomash-sessions
    state: absent
"""

RETURN = r"""
extends_documentation_fragment:
  - lomashwood.multiregion.batch
changed:
  description: Whether the group was (or, in check mode, would be) created or deleted.
  returned: always
  type: bool
endpoint:
  description: The primary endpoint (where sessions are written), null when absent or not yet known (check mode).
  returned: always
  type: dict
  sample: {"address": "master.lomash-sessions.abc123.euw2.cache.amazonaws.com", "port": 6379}
reader_endpoint:
  description: The reader endpoint (all replicas), when ElastiCache reports one.
  returned: always
  type: dict
status:
  description: The group's status at the end (C(available)), or null once it is gone.
  returned: always
  type: str
timeline:
  description: Each status the group was seen in while waiting, with the seconds since the start of the run.
  returned: always
  type: list
  elements: dict
  sample: [{"seconds": 0.4, "status": "creating"}, {"seconds": 312.0, "status": "available"}]
results:
  description: One entry, for the group (the shape every module of this collection returns).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The replication group id.
      type: str
    action:
      description: C(create), C(delete), C(wait) (a create or delete already under way) or C(none).
      type: str
    outcome:
      description: C(created), C(deleted), C(unchanged), C(would-create), C(would-delete), C(pending) or C(failed).
      type: str
    changed:
      description: Whether this run created or deleted it.
      type: bool
    before:
      description: Status, node type, nodes and endpoint before the run; null if absent.
      type: dict
    after:
      description: The same at the end of the run; null if absent.
      type: dict
    seconds:
      description: Seconds from the start of the run until it was available (or gone).
      type: float
    error:
      description: Why it failed, or null.
      type: str
plan:
  description: The step decided before anything was changed (what check mode shows).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "lomash-sessions", "action": "create", "state": "present"}]
"""

import time

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.lomashwood.multiregion.plugins.module_utils import aws
from ansible_collections.lomashwood.multiregion.plugins.module_utils import elasticache_redis as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import (
    Adapter, ApiCallCounter, BatchError, batch_argument_spec, diff_of, execute)


class Redis(Adapter):
    """elasticache_redis for the module flow (module_utils/batch.py): a batch of one group."""

    noun = "replication group"
    refusal = "Refusing to change the Redis replication group"
    failure = "Failed to change the Redis replication group"

    def __init__(self, module, counter):
        p = module.params
        self.started = time.monotonic()
        self.timeline = []
        self.request = core.Request(
            name=p["replication_group_id"], state=p["state"], node_type=p["node_type"], engine_version=p["engine_version"],
            nodes=p["num_cache_clusters"], port=p["port"], description=p["description"],
            subnet_group=p["cache_subnet_group"], security_group_ids=tuple(p["security_group_ids"] or ()),
            parameter_group=p["cache_parameter_group"], transit_encryption=p["transit_encryption"],
            at_rest_encryption=p["at_rest_encryption"], auth_token=p["auth_token"],
            tags=tuple(sorted((str(k), str(v)) for k, v in (p["tags"] or {}).items())),
            final_snapshot_name=p["final_snapshot_name"])
        self._problems = []
        self.elasticache = aws.client(module, "elasticache", counter)
        self.ec2 = aws.client(module, "ec2", counter) if self.request.security_group_ids else None

    def _seen(self, group):
        status = group.status if group else None
        if not self.timeline or self.timeline[-1]["status"] != status:
            self.timeline.append({"seconds": round(time.monotonic() - self.started, 2), "status": status})
        return {self.request.name: group}

    def observe(self):
        problems = core.validate_request(self.request)
        if problems:
            raise BatchError(problems)
        group = core.describe_group(self.elasticache, self.request.name)
        self._problems = core.check_references(self.elasticache, self.ec2, self.request, group)
        return self._seen(group)

    def plan(self, observed):
        return core.plan_group(self.request, observed[self.request.name], self._problems)

    def simulate(self, plan, observed):
        return {self.request.name: core.simulate(plan[0], observed[self.request.name], self.request)}

    def apply(self, plan):
        return plan, core.apply_step(self.elasticache, self.request, plan[0])

    def poll(self):
        return self._seen(core.describe_group(self.elasticache, self.request.name))

    def is_done(self, action, state):
        return core.is_done(action, state)

    def progress(self, name, state):
        return state.status if state else "absent"

    def summarise(self, plan, before, after, done, failures, check_mode):
        step, name = plan[0], self.request.name
        was, now = before.get(name), after.get(name)
        result = dict(
            name=name, action=step.action, outcome=core.outcome(step, now, name in failures, check_mode),
            changed=step.changed and name not in failures,
            before=was.summary() if was else None, after=now.summary() if now else None,
            seconds=done.get(name), error=str(failures[name]) if name in failures else None)
        endpoint = {"address": now.address, "port": now.port} if now and now.address else None
        reader = {"address": now.reader_address, "port": now.port} if now and now.reader_address else None
        return dict(results=[result], diff=diff_of([result]), endpoint=endpoint, reader_endpoint=reader,
                    status=now.status if now else None, timeline=self.timeline)


def main():
    argument_spec = dict(
        replication_group_id=dict(type="str", required=True, aliases=["id", "name"]),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        node_type=dict(type="str"),
        engine_version=dict(type="str"),
        num_cache_clusters=dict(type="int", default=1),
        port=dict(type="int", default=6379),
        description=dict(type="str", default="Lomash Wood sessions"),
        cache_subnet_group=dict(type="str"),
        security_group_ids=dict(type="list", elements="str"),
        cache_parameter_group=dict(type="str"),
        transit_encryption=dict(type="bool", default=False),
        at_rest_encryption=dict(type="bool", default=True),
        auth_token=dict(type="str", no_log=True),
        tags=dict(type="dict"),
        final_snapshot_name=dict(type="str"),
        **{k: v for k, v in batch_argument_spec().items() if k != "max_concurrency"},
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    if not module.region:
        module.fail_json(msg="region is required (the standby region the Redis runs in)")
    # One group: nothing runs concurrently. The batch flow reads the option, so it is set here.
    module.params["max_concurrency"] = 1
    counter = ApiCallCounter()
    execute(module, lambda m: Redis(m, counter), counter)


if __name__ == "__main__":
    main()
