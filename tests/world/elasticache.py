"""World realism for ElastiCache replication groups (the standby's Redis for sessions).

moto creates a replication group ``available`` at once and deletes it by marking it ``deleting``
for ever (it never goes away), ignores ``FinalSnapshotIdentifier``, accepts any subnet group
name, and makes one node whatever ``NumCacheClusters`` says. Real ElastiCache, as done here:

* CreateReplicationGroup answers ``creating``; the group (and its node groups) become
  ``available`` after ``elasticache_create_seconds`` (default 1 s). Until then the node group has
  no ``PrimaryEndpoint``, so a caller has to wait for it.
* ``NumCacheClusters`` (cluster mode disabled) makes that many nodes: one primary, the rest replicas.
* A ``CacheSubnetGroupName`` that does not exist is refused (``CacheSubnetGroupNotFoundFault``).
* DeleteReplicationGroup of a group that is not ``available`` is refused
  (``InvalidReplicationGroupState``); otherwise the group is ``deleting`` for
  ``elasticache_delete_seconds`` (default 0.5 s), then gone (``ReplicationGroupNotFoundFault``).
  ``FinalSnapshotIdentifier`` makes a snapshot of the group first (an existing name is refused
  with ``SnapshotAlreadyExistsFault`` and nothing is deleted).

Hooked in by realism.EXTENSIONS; completion is by wall-clock time, checked on every request.
"""

from __future__ import annotations

import time
from typing import Any

from .realism import STATE

CONFIG = {"elasticache_create_seconds": 1.0, "elasticache_delete_seconds": 0.5}
CONFIG_TYPES = {"elasticache_create_seconds": (int, float), "elasticache_delete_seconds": (int, float)}

# (account, region, group id) -> monotonic deadline
_CREATING: dict[tuple[str, str, str], float] = {}
_DELETING: dict[tuple[str, str, str], float] = {}


def _error(code: str, message: str) -> Exception:
    from moto.elasticache.exceptions import ElastiCacheException

    return ElastiCacheException(code, message)


def _create_replication_group(original):
    def create(self: Any, **kwargs: Any) -> Any:
        from moto.elasticache.exceptions import CacheSubnetGroupNotFound

        subnet_group = kwargs.get("cache_subnet_group_name")
        if subnet_group and subnet_group not in self.cache_subnet_groups:
            raise CacheSubnetGroupNotFound(subnet_group)
        count = kwargs.get("num_cache_clusters")
        if count and not kwargs.get("replicas_per_node_group") and (kwargs.get("cluster_mode") or "disabled") == "disabled":
            kwargs["replicas_per_node_group"] = count - 1  # moto sizes the node group from this one
        with STATE.lock:
            group = original(self, **kwargs)
            group.status = "creating"
            for node_group in group.node_groups:
                node_group["status"] = "creating"
                if "primary_endpoint" in node_group:
                    node_group["_world_primary_endpoint"] = node_group.pop("primary_endpoint")
            key = (self.account_id, self.region_name, group.replication_group_id)
            _CREATING[key] = time.monotonic() + float(STATE.config.get("elasticache_create_seconds", 1.0))
        return group

    return create


def _delete_replication_group(self: Any) -> Any:
    """ElastiCacheResponse.delete_replication_group, with the state check and the final snapshot."""
    from moto.core.responses import ActionResult
    from moto.elasticache.exceptions import ReplicationGroupNotFound

    backend = self.elasticache_backend
    group_id = self._get_param("ReplicationGroupId")
    final_snapshot = self._get_param("FinalSnapshotIdentifier")
    with STATE.lock:
        group = backend.replication_groups.get(group_id)
        if group is None:
            raise ReplicationGroupNotFound(group_id)
        if group.status != "available":
            raise _error("InvalidReplicationGroupState", f"Replication group {group_id} is not in available state "
                                                         f"(it is {group.status}).")
        if final_snapshot:
            backend.create_snapshot(snapshot_name=final_snapshot, replication_group_id=group_id, cache_cluster_id=None,
                                    kms_key_id=None, tags=None)  # SnapshotAlreadyExistsFault: nothing deleted
        group = backend.delete_replication_group(group_id, self._get_bool_param("RetainPrimaryCluster"))
        key = (backend.account_id, backend.region_name, group_id)
        _DELETING[key] = time.monotonic() + float(STATE.config.get("elasticache_delete_seconds", 0.5))
    return ActionResult({"ReplicationGroup": group})


def _backend(account: str, region: str) -> Any:
    from moto.elasticache.models import elasticache_backends

    return elasticache_backends[account][region]


def settle() -> None:
    with STATE.lock:
        now = time.monotonic()
        for key in [k for k, deadline in _CREATING.items() if deadline <= now]:
            del _CREATING[key]
            group = _backend(key[0], key[1]).replication_groups.get(key[2])
            if group is not None and group.status == "creating":
                group.status = "available"
                for node_group in group.node_groups:
                    node_group["status"] = "available"
                    if "_world_primary_endpoint" in node_group:
                        node_group["primary_endpoint"] = node_group.pop("_world_primary_endpoint")
        for key in [k for k, deadline in _DELETING.items() if deadline <= now]:
            del _DELETING[key]
            _backend(key[0], key[1]).replication_groups.pop(key[2], None)


def forget() -> None:
    with STATE.lock:
        _CREATING.clear()
        _DELETING.clear()


def install() -> None:
    from moto.elasticache.models import ElastiCacheBackend
    from moto.elasticache.responses import ElastiCacheResponse

    ElastiCacheBackend.create_replication_group = _create_replication_group(ElastiCacheBackend.create_replication_group)
    ElastiCacheResponse.delete_replication_group = _delete_replication_group
