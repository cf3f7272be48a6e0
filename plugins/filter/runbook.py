# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters the playbooks use to turn the inventory's lists into another region's view of them, and a batch's
result into what the next step takes."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def services_on(services, databases):
    """The services (dicts with name, database, secret) with each database renamed through databases.

    Failback runs the same services in the home region, on the home region's database names:
    services_on(dr_services, dict(dr_rds_replicas | zip(dr_rds_primaries))). A service without a
    database (the api-gateway) is kept as it is; a database missing from the map is an error.
    """
    out = []
    for service in services:
        service = dict(service)
        if service.get("database") is not None:
            if service["database"] not in databases:
                raise AnsibleFilterError("services_on: no counterpart for database %r (known: %s)"
                                         % (service["database"], ", ".join(sorted(databases)) or "none"))
            service["database"] = databases[service["database"]]
        out.append(service)
    return out


def batch_endpoints(result):
    """{name: {address, port}} of a batch module's result (rds_replica_batch, rds_promote_batch) when every
    instance in it has its endpoint; {} otherwise (skipped, not run, check mode, an instance without one yet),
    so that repoint_services reads them itself. An RDS endpoint's name does not change on promotion."""
    results = result.get("results") if isinstance(result, dict) else None
    if not results or not all(isinstance(r, dict) and r.get("name") and r.get("address") for r in results):
        return {}
    return {r["name"]: {"address": r["address"], "port": r.get("port")} for r in results}


class FilterModule:
    def filters(self):
        return {"services_on": services_on, "batch_endpoints": batch_endpoints}
