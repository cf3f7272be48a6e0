# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The core of elasticache_redis: the standby region's Redis for sessions, present or absent.

Sessions are not replicated across regions; at rest the standby has no Redis. On failover a
fresh ElastiCache replication group (cluster mode disabled: one shard, a primary and 0-5
replicas, a primary endpoint that survives a node failover) is created and waited for; on
failback it is deleted, optionally behind a final snapshot.

A replication group rather than a lone cache cluster: it has a primary endpoint (the address
the services keep when ElastiCache fails over to a replica), Multi-AZ and automatic failover
once it has two nodes, and in-transit encryption with an AUTH token.

Planning is pure (observed group + request -> plan or BatchError); the module flow
(module_utils/batch.py) applies the one step and waits with one DescribeReplicationGroups per poll.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .aws import is_error_code
from .batch import BatchError

# ElastiCache: 1-40 letters, digits or hyphens; starts with a letter; no trailing or double hyphen.
_GROUP_ID = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,39}(?<!-)$")
# Snapshot names: 1-255 of the same characters (the same rules otherwise).
_SNAPSHOT_NAME = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,254}(?<!-)$")
_NODE_TYPE = re.compile(r"^cache\.[a-z][a-z0-9-]*\.[a-z0-9]+$")
_ENGINE_VERSION = re.compile(r"^\d+(\.\d+){0,2}(\.x)?$")
MAX_NODES = 6  # a shard: one primary and up to five replicas
_AUTH_TOKEN_FORBIDDEN = set('@"/')


@dataclass(frozen=True)
class Group:
    """What one DescribeReplicationGroups entry says, reduced to what the plan needs."""

    name: str
    status: str
    node_type: str | None = None
    nodes: int = 0
    address: str | None = None
    port: int | None = None
    reader_address: str | None = None
    transit_encryption: bool = False
    at_rest_encryption: bool = False
    auth_token_enabled: bool = False
    multi_az: bool = False
    arn: str | None = None

    @classmethod
    def from_api(cls, desc):
        node_group = (desc.get("NodeGroups") or [{}])[0]
        primary = node_group.get("PrimaryEndpoint") or {}
        reader = node_group.get("ReaderEndpoint") or {}
        return cls(
            name=desc["ReplicationGroupId"],
            status=desc.get("Status", "unknown"),
            node_type=desc.get("CacheNodeType"),
            nodes=len(desc.get("MemberClusters") or []),
            address=primary.get("Address"),
            port=primary.get("Port"),
            reader_address=reader.get("Address"),
            transit_encryption=bool(desc.get("TransitEncryptionEnabled")),
            at_rest_encryption=bool(desc.get("AtRestEncryptionEnabled")),
            auth_token_enabled=bool(desc.get("AuthTokenEnabled")),
            multi_az=desc.get("MultiAZ") == "enabled",
            arn=desc.get("ARN"),
        )

    def summary(self):
        return {"status": self.status, "node_type": self.node_type, "nodes": self.nodes,
                "address": self.address, "port": self.port}


@dataclass(frozen=True)
class Request:
    """What the module was asked for (validated by validate_request)."""

    name: str
    state: str = "present"
    node_type: str | None = None
    engine_version: str | None = None
    nodes: int = 1
    port: int = 6379
    description: str = "Lomash Wood sessions"
    subnet_group: str | None = None
    security_group_ids: tuple = ()
    parameter_group: str | None = None
    transit_encryption: bool = False
    at_rest_encryption: bool = True
    auth_token: str | None = None
    tags: tuple = ()  # ((key, value), ...)
    final_snapshot_name: str | None = None


def validate_request(req):
    """Every problem with the request itself, each naming the option (the auth token never shown)."""
    problems = []
    if not _GROUP_ID.match(req.name):
        problems.append("replication_group_id %r is not a valid ElastiCache id (1-40 lower-case letters, digits or "
                        "hyphens, starting with a letter, no double or trailing hyphen)" % req.name)
    if req.state == "present":
        if not req.node_type:
            problems.append("node_type is required with state=present")
        elif not _NODE_TYPE.match(req.node_type):
            problems.append("node_type %r is not a cache node type (cache.<family>.<size>, e.g. cache.r6g.large)" % req.node_type)
        if req.engine_version is not None and not _ENGINE_VERSION.match(req.engine_version):
            problems.append("engine_version %r is not a Redis version (e.g. 7.1)" % req.engine_version)
        if not 1 <= req.nodes <= MAX_NODES:
            problems.append("num_cache_clusters must be 1 to %d (one primary and up to 5 replicas), got %s" % (MAX_NODES, req.nodes))
        if not 1 <= req.port <= 65535:
            problems.append("port must be 1 to 65535, got %s" % req.port)
        if req.auth_token is not None:
            if not req.transit_encryption:
                problems.append("auth_token needs transit_encryption=true (ElastiCache accepts an AUTH token only with in-transit encryption)")
            if not 16 <= len(req.auth_token) <= 128 or any(c in _AUTH_TOKEN_FORBIDDEN or not 32 < ord(c) < 127
                                                           for c in req.auth_token):
                problems.append("auth_token must be 16 to 128 printable characters other than @, \" and / (value not shown)")
    if req.final_snapshot_name is not None and not _SNAPSHOT_NAME.match(req.final_snapshot_name):
        problems.append("final_snapshot_name %r is not a valid snapshot name" % req.final_snapshot_name)
    return problems


# ---- plan -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """The one step for the group: create, delete, wait (a create or delete under way) or none."""

    name: str
    action: str
    state: str
    final_snapshot_name: str | None = None

    @property
    def changed(self):
        return self.action in ("create", "delete")

    def as_dict(self):
        out = {"name": self.name, "action": self.action, "state": self.state}
        if self.action == "delete" and self.final_snapshot_name:
            out["final_snapshot_name"] = self.final_snapshot_name
        return out


def differences(group, req):
    """What an existing group has that the request does not ask for (none of it changes in place here)."""
    found = []
    if group.node_type != req.node_type:
        found.append("node type %s, not %s" % (group.node_type, req.node_type))
    if group.nodes != req.nodes:
        found.append("%d node(s), not %d" % (group.nodes, req.nodes))
    if group.transit_encryption != req.transit_encryption:
        found.append("in-transit encryption %s" % ("on" if group.transit_encryption else "off"))
    if group.at_rest_encryption != req.at_rest_encryption:
        found.append("at-rest encryption %s" % ("on" if group.at_rest_encryption else "off"))
    if group.auth_token_enabled != (req.auth_token is not None):
        found.append("AUTH token %s" % ("set" if group.auth_token_enabled else "not set"))
    return found


def plan_group(req, group, problems=()):
    """The step for the request and the observed group (None: absent); or refuse, naming why."""
    problems = list(problems)
    step = None
    status = group.status if group else None
    if req.state == "present":
        if group is None:
            step = Step(req.name, "create", "present")
        elif status == "creating":
            step = Step(req.name, "wait", "present")
        elif status == "deleting":
            problems.append("%s: is being deleted; run again once it is gone" % req.name)
        else:
            found = differences(group, req)
            if found:
                problems.append("%s: exists with %s; this module does not change a running group (state=absent "
                                "deletes it, then state=present creates it as asked)" % (req.name, ", ".join(found)))
            else:
                step = Step(req.name, "none", "present")
    else:
        if group is None:
            step = Step(req.name, "none", "absent")
        elif status == "deleting":
            step = Step(req.name, "wait", "absent")
        elif status != "available":
            problems.append("%s: is %s; ElastiCache deletes a replication group only when it is available" % (req.name, status))
        else:
            step = Step(req.name, "delete", "absent", req.final_snapshot_name)
    if problems:
        raise BatchError(problems)
    return [step]


def is_done(step, group):
    """present: available with a primary endpoint; absent: gone."""
    if step.state == "absent":
        return group is None
    return group is not None and group.status == "available" and group.address is not None


# ---- observe / execute ------------------------------------------------------------------------

def describe_group(elasticache, name):
    """The Group, or None when there is no replication group of that id."""
    try:
        found = elasticache.describe_replication_groups(aws_retry=True, ReplicationGroupId=name)["ReplicationGroups"]
    except Exception as exc:  # pylint: disable=broad-except
        if is_error_code(exc, "ReplicationGroupNotFoundFault"):
            return None
        raise
    return Group.from_api(found[0]) if found else None


def check_references(elasticache, ec2, req, group):
    """Problems with what a create or delete would refer to: the subnet group, the security
    groups, a final snapshot name already taken. Read-only calls, made only when they matter."""
    problems = []
    creating = req.state == "present" and group is None
    if creating and req.subnet_group:
        try:
            elasticache.describe_cache_subnet_groups(aws_retry=True, CacheSubnetGroupName=req.subnet_group)
        except Exception as exc:  # pylint: disable=broad-except
            if not is_error_code(exc, "CacheSubnetGroupNotFoundFault"):
                raise
            problems.append("cache_subnet_group %s: no cache subnet group of that name" % req.subnet_group)
    if creating and req.security_group_ids and ec2 is not None:
        found = set()
        try:
            groups = ec2.describe_security_groups(aws_retry=True, GroupIds=list(req.security_group_ids))["SecurityGroups"]
            found = {g["GroupId"] for g in groups}
        except Exception as exc:  # pylint: disable=broad-except
            if not is_error_code(exc, "InvalidGroup.NotFound", "InvalidGroupId.Malformed"):
                raise
        missing = [g for g in req.security_group_ids if g not in found]
        if missing:
            problems.append("security_group_ids: no security group %s" % ", ".join(missing))
    if req.state == "absent" and group is not None and group.status == "available" and req.final_snapshot_name:
        try:
            elasticache.describe_snapshots(aws_retry=True, SnapshotName=req.final_snapshot_name)
            problems.append("final_snapshot_name %s: a snapshot of that name exists already" % req.final_snapshot_name)
        except Exception as exc:  # pylint: disable=broad-except
            if not is_error_code(exc, "SnapshotNotFoundFault"):
                raise
    return problems


def create_request(req):
    """CreateReplicationGroup's parameters (the AUTH token among them: never log this)."""
    kwargs = dict(
        ReplicationGroupId=req.name,
        ReplicationGroupDescription=req.description,
        Engine="redis",
        CacheNodeType=req.node_type,
        NumCacheClusters=req.nodes,
        # With a replica, ElastiCache fails over on its own and spreads the nodes over AZs.
        AutomaticFailoverEnabled=req.nodes > 1,
        MultiAZEnabled=req.nodes > 1,
        Port=req.port,
        TransitEncryptionEnabled=req.transit_encryption,
        AtRestEncryptionEnabled=req.at_rest_encryption,
    )
    optional = dict(EngineVersion=req.engine_version, CacheSubnetGroupName=req.subnet_group,
                    CacheParameterGroupName=req.parameter_group, AuthToken=req.auth_token)
    kwargs.update((k, v) for k, v in optional.items() if v is not None)
    if req.security_group_ids:
        kwargs["SecurityGroupIds"] = list(req.security_group_ids)
    if req.tags:
        kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in req.tags]
    return kwargs


def delete_request(step):
    kwargs = {"ReplicationGroupId": step.name}
    if step.final_snapshot_name:
        kwargs["FinalSnapshotIdentifier"] = step.final_snapshot_name
    return kwargs


def apply_step(elasticache, req, step):
    """Send the create or delete; {name: exception} on failure. A create or delete that ElastiCache
    says is already so (a retry of a call that landed) is not a failure: the wait tells."""
    try:
        if step.action == "create":
            elasticache.create_replication_group(aws_retry=True, **create_request(req))
        elif step.action == "delete":
            elasticache.delete_replication_group(aws_retry=True, **delete_request(step))
    except Exception as exc:  # pylint: disable=broad-except
        if step.action == "create" and is_error_code(exc, "ReplicationGroupAlreadyExists"):
            return {}
        if step.action == "delete" and is_error_code(exc, "ReplicationGroupNotFoundFault"):
            return {}
        return {step.name: exc}
    return {}


def simulate(step, group, req):
    """The end state check mode predicts (the endpoint of a group not yet created is unknown)."""
    if step.state == "absent":
        return None
    if group is not None:
        return group
    return Group(req.name, "available", req.node_type, req.nodes, None, req.port if step.action == "create" else None,
                 transit_encryption=req.transit_encryption, at_rest_encryption=req.at_rest_encryption,
                 auth_token_enabled=req.auth_token is not None, multi_az=req.nodes > 1)


def outcome(step, now, failed, check_mode):
    """created, deleted, unchanged, would-create, would-delete (check mode), pending or failed."""
    if failed:
        return "failed"
    if step.action == "none":
        return "unchanged"
    verb = "create" if step.state == "present" else "delete"
    if check_mode:
        return "would-" + verb if step.changed else "pending"
    return (verb + "d") if is_done(step, now) else "pending"
