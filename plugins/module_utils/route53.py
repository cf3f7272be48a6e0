# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Route 53 for the failover: which region a name answers with, and the record changes that move it.

The name (``api.lomashwood.com``) has one of three shapes: *failover* records (a PRIMARY and a
SECONDARY), *weighted* records (one per region), or one *simple* record. Every mode of
route53_failover is "make the records of this name this shape": the plan is the difference
between the records read and the records wanted, sent as one ChangeBatch (DELETE of what goes,
CREATE of what comes, in one atomic change), then one ``GetChange`` poll until ``INSYNC``.

Failover is done by a record change that swaps the PRIMARY and SECONDARY roles, not by
inverting the PRIMARY's health check (as a routing control would). An inverted check reports
healthy while its target fails: during a real outage, when this runs, the dead region would
become the answer. A swap is independent of health, visible in the records themselves, and
exactly reversible: every record keeps its set identifier, target and health check, only the
``Failover`` value moves, so failback restores the records as they were.

DELETE carries the records exactly as read, so a record edited by someone else between the read
and the change makes Route 53 refuse the whole batch (InvalidChangeBatch): nothing half-applied.
"""

from __future__ import annotations

import re

try:
    import botocore.session
except ImportError:
    botocore = None  # AnsibleAWSModule reports the missing botocore

from ansible_collections.lomashwood.multiregion.plugins.module_utils.aws import TransientRetry
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import BatchError, duplicates

# Route 53 answers PriorRequestNotComplete while an earlier change of the zone is still applied.
RETRY = TransientRetry.jittered_backoff(retries=8, delay=1, max_delay=20, catch_extra_error_codes=["PriorRequestNotComplete"])

# Route 53 calls an endpoint healthy when more than 18 % of its checkers do.
HEALTHY_FRACTION = 0.18
HEALTH_CHECK_INTERVALS = (10, 30)
_ZONE_ID = re.compile(r"^(/hostedzone/)?Z[A-Z0-9]{1,32}$")
_HEALTH_CHECK_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def fqdn(name):
    """The name as Route 53 writes it: lower case, with the final dot."""
    return name.lower().rstrip(".") + "."


def _host(name):
    """A target's DNS name, comparable: lower case, no final dot, no ``dualstack.`` prefix."""
    host = (name or "").lower().rstrip(".")
    return host[len("dualstack."):] if host.startswith("dualstack.") else host


def is_zone_id(zone):
    return bool(_ZONE_ID.match(zone))


def is_health_check_id(value):
    return bool(_HEALTH_CHECK_ID.match(value))


def aws_regions():
    """The regions of the AWS partition (botocore's endpoint data, no call)."""
    return set(botocore.session.get_session().get_available_regions("elbv2"))


# ---- the targets: an ALB per region ------------------------------------------------------------

class Target:
    """Where one region's traffic goes: its ALB, resolved to DNS name and canonical zone."""

    def __init__(self, role, region, alb, health_check=None):
        self.role, self.region, self.alb, self.health_check = role, region, alb, health_check
        self.dns_name = self.hosted_zone_id = None
        self.source = "elbv2"
        self.unreachable = None  # why the ALB could not be looked up (its region's API down)

    def resolved(self, load_balancer):
        self.dns_name = load_balancer["DNSName"]
        self.hosted_zone_id = load_balancer["CanonicalHostedZoneId"]
        return self


def resolve_from_records(target, records, others):
    """A target whose region's API did not answer, found by elimination in the name's records.

    During an outage the primary's ELBv2 API is down, but its record is there: the records that
    point at none of the other (resolved) targets are its own. Returns a problem, or None.
    """
    mine = [r for r in records if region_of(r, others) is None]
    hosts = sorted({record_target(r) for r in mine})
    if len(hosts) != 1:
        return ("%s.alb: %r could not be looked up in %s (%s), and the records of the name do not show its "
                "target (%s)" % (target.role, target.alb, target.region, target.unreachable,
                                 ", ".join(hosts) or "no other record"))
    target.dns_name = hosts[0]
    aliased = [r["AliasTarget"]["HostedZoneId"] for r in mine if "AliasTarget" in r]
    target.hosted_zone_id = aliased[0] if aliased else None
    target.source = "records (%s API unreachable: %s)" % (target.region, target.unreachable)
    return None


def check_targets(targets, regions):
    """Problems with the targets given, before any call: regions known and distinct, ALB named."""
    problems = []
    for target in targets:
        if target.region not in regions:
            problems.append("%s.region: %r is not an AWS region" % (target.role, target.region))
        if not target.alb:
            problems.append("%s.alb: give the ALB's name or ARN" % target.role)
    if len(targets) == 2 and targets[0].region == targets[1].region:
        problems.append("primary.region and standby.region are both %r; they must differ" % targets[0].region)
    return problems


def describe_alb(elbv2, target):
    """The target's ALB (by ARN or name) in its region; None when there is none."""
    key = "LoadBalancerArns" if target.alb.startswith("arn:") else "Names"
    try:
        found = elbv2.describe_load_balancers(aws_retry=True, **{key: [target.alb]})["LoadBalancers"]
    except Exception as exc:  # pylint: disable=broad-except
        if _error_code(exc) in ("LoadBalancerNotFound", "ValidationError"):
            return None
        raise
    return found[0] if found else None


def _error_code(exc):
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code")


# ---- reading the zone --------------------------------------------------------------------------

def find_zone(route53, zone, private=False):
    """The hosted zone id of a zone given by id or name (one ListHostedZonesByName for a name)."""
    if is_zone_id(zone):
        return zone.split("/")[-1]
    name = fqdn(zone)
    found = route53.list_hosted_zones_by_name(aws_retry=True, DNSName=name, MaxItems="10")["HostedZones"]
    ids = [z["Id"].split("/")[-1] for z in found
           if z["Name"].lower() == name and bool(z.get("Config", {}).get("PrivateZone")) == private]
    if not ids:
        raise BatchError(["zone: no %s hosted zone named %r" % ("private" if private else "public", zone)])
    if len(ids) > 1:
        raise BatchError(["zone: %d hosted zones are named %r (%s); give its id" % (len(ids), zone, ", ".join(ids))])
    return ids[0]


def read_records(route53, zone_id, name, types=("A", "CNAME")):
    """The record sets of one name (of these types), reading from that name on, never the zone.

    ListResourceRecordSets starts at (StartRecordName, StartRecordType); the records of one name
    come together, so the listing stops at the first record of another name.
    """
    name = fqdn(name)
    records, start = [], dict(StartRecordName=name, StartRecordType=sorted(types)[0])
    try:
        while True:
            page = route53.list_resource_record_sets(aws_retry=True, HostedZoneId=zone_id, MaxItems="100", **start)
            for record in page["ResourceRecordSets"]:
                if fqdn(record["Name"]) != name:
                    return records
                if record["Type"] in types:
                    records.append(record)
            if not page.get("IsTruncated") or fqdn(page.get("NextRecordName", "")) != name:
                return records
            start = dict(StartRecordName=page["NextRecordName"], StartRecordType=page["NextRecordType"])
            if page.get("NextRecordIdentifier"):
                start["StartRecordIdentifier"] = page["NextRecordIdentifier"]
    except Exception as exc:  # pylint: disable=broad-except
        if _error_code(exc) == "NoSuchHostedZone":
            raise BatchError(["zone: no hosted zone with id %r" % zone_id]) from exc
        raise


def record_target(record):
    """A record's target host (alias DNS name or the first value)."""
    if "AliasTarget" in record:
        return _host(record["AliasTarget"]["DNSName"])
    values = record.get("ResourceRecords") or [{}]
    return _host(values[0].get("Value"))


def shape_of(records):
    if not records:
        return "none"
    if any("Failover" in r for r in records):
        return "failover"
    if any("Weight" in r for r in records):
        return "weighted"
    return "simple"


def region_of(record, targets):
    host = record_target(record)
    for target in targets:
        if _host(target.dns_name) == host:
            return target.region
    return None


def strangers(records, targets):
    """Records of the name that point at neither target: refused, never deleted by us."""
    return [r for r in records if region_of(r, targets) is None]


# ---- health ------------------------------------------------------------------------------------

def _successes(observations):
    return sum(1 for o in observations if o.get("StatusReport", {}).get("Status", "").startswith("Success"))


def healthy(observations):
    """Whether Route 53 counts an endpoint healthy, from GetHealthCheckStatus's observations."""
    return bool(observations) and _successes(observations) / float(len(observations)) > HEALTHY_FRACTION


def health_check_ids(records):
    return sorted({r["HealthCheckId"] for r in records if r.get("HealthCheckId")})


def health_status(route53, health_check_id):
    observations = route53.get_health_check_status(aws_retry=True, HealthCheckId=health_check_id)["HealthCheckObservations"]
    return dict(id=health_check_id, healthy=healthy(observations), checkers=len(observations),
                checkers_healthy=_successes(observations))


def serving(records, health, targets):
    """Where Route 53 answers now: {'region': r} or, for weighted records, {'weights': {region: share}}.

    health: {health check id: {'healthy': bool}}; a record without a check is always eligible.
    """
    def eligible(record):
        check = record.get("HealthCheckId")
        return not check or health.get(check, {}).get("healthy", True)

    shape = shape_of(records)
    if shape == "failover":
        by_role = {r["Failover"]: r for r in records}
        primary, secondary = by_role.get("PRIMARY"), by_role.get("SECONDARY")
        answer = primary if primary is not None and (eligible(primary) or secondary is None) else secondary
        return dict(region=region_of(answer, targets))
    if shape == "weighted":
        live = [r for r in records if eligible(r)] or records  # all unhealthy: Route 53 answers as if all were
        total = sum(r["Weight"] for r in live)
        weights = {}
        for record in live:
            share = (record["Weight"] / float(total)) if total else 1.0 / len(live)
            region = region_of(record, targets)
            weights[region] = round(weights.get(region, 0) + share, 4)
        return dict(weights=weights, region=max(weights, key=weights.get) if len(weights) == 1 else None)
    if shape == "simple":
        return dict(region=region_of(records[0], targets))
    return dict(region=None)


def status(records, health, targets, primary_region):
    """The name's state for the runbook: shape, roles, who answers, and whether Route 53 failed over alone."""
    shape = shape_of(records)
    answer = serving(records, health, targets)
    primary_record = next((r for r in records if r.get("Failover") == "PRIMARY"), None)
    primary_role_region = region_of(primary_record, targets) if primary_record else None
    return dict(
        shape=shape,
        serving_region=answer.get("region"),
        weights=answer.get("weights"),
        primary_role_region=primary_role_region,
        # Records untouched (the primary region is PRIMARY) yet the answer is elsewhere: health did it.
        auto_failed_over=bool(shape == "failover" and primary_role_region == primary_region
                              and answer.get("region") not in (None, primary_region)),
    )


# ---- the records wanted ------------------------------------------------------------------------

class Desired:
    """How the records are written: alias (A) to the ALB, or CNAME with a TTL."""

    def __init__(self, name, alias=True, ttl=None, evaluate_target_health=True):
        self.name, self.alias, self.ttl, self.evaluate = fqdn(name), alias, ttl, evaluate_target_health

    def record(self, target, set_identifier, health_check_id, **routing):
        record = dict(Name=self.name, Type="A" if self.alias else "CNAME", SetIdentifier=set_identifier, **routing)
        if self.alias:
            record["AliasTarget"] = dict(HostedZoneId=target.hosted_zone_id, DNSName=target.dns_name,
                                         EvaluateTargetHealth=self.evaluate)
        else:
            record["TTL"] = self.ttl
            record["ResourceRecords"] = [dict(Value=target.dns_name)]
        if health_check_id:
            record["HealthCheckId"] = health_check_id
        return record


def _carried(records, targets):
    """What each target's record keeps across shapes: its set identifier and health check."""
    kept = {}
    for target in targets:
        mine = [r for r in records if region_of(r, [target]) == target.region]
        old = mine[0] if mine else {}
        kept[target.region] = dict(set_identifier=old.get("SetIdentifier") or target.region,
                                   health_check=target.health_check or old.get("HealthCheckId"))
    return kept


def wanted_failover(desired, records, primary, standby, serve_from):
    """Failover records with serve_from (a Target) as PRIMARY and the other as SECONDARY."""
    kept = _carried(records, [primary, standby])
    out = []
    for target in (primary, standby):
        role = "PRIMARY" if target is serve_from else "SECONDARY"
        keep = kept[target.region]
        out.append(desired.record(target, keep["set_identifier"], keep["health_check"], Failover=role))
    return out


def wanted_weighted(desired, records, targets, weights):
    kept = _carried(records, targets)
    return [desired.record(t, kept[t.region]["set_identifier"], kept[t.region]["health_check"], Weight=weights[t.region])
            for t in targets]


def check_weights(weights, targets):
    """Problems with weights: a region per target, each 0..255, not all zero."""
    problems = []
    regions = [t.region for t in targets]
    for region, weight in sorted((weights or {}).items()):
        if region not in regions:
            problems.append("weights: %r is not a target region (%s)" % (region, ", ".join(regions)))
        if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= 255:
            problems.append("weights: %s=%r is not an integer from 0 to 255" % (region, weight))
    missing = [r for r in regions if r not in (weights or {})]
    if missing:
        problems.append("weights: no weight for %s" % ", ".join(missing))
    if weights and not problems and not any(weights.values()):
        problems.append("weights: all zero (%s); at least one region must take traffic"
                        % ", ".join("%s=0" % r for r in sorted(weights)))
    return problems


def _canonical(record):
    """A record set as a comparable value (Route 53 may echo names and values with other case/dots)."""
    out = dict(record)
    out["Name"] = fqdn(record["Name"])
    if "AliasTarget" in record:
        alias = dict(record["AliasTarget"])
        alias["DNSName"] = fqdn(alias["DNSName"])
        out["AliasTarget"] = alias
    if "ResourceRecords" in record:
        out["ResourceRecords"] = [dict(Value=_host(v["Value"])) for v in record["ResourceRecords"]]
    return tuple(sorted((k, repr(v)) for k, v in out.items()))


def changes(current, wanted):
    """One ChangeBatch's changes: DELETE (exactly as read) what goes, CREATE what comes."""
    have = {_canonical(r): r for r in current}
    want = {_canonical(r): r for r in wanted}
    deletes = [dict(Action="DELETE", ResourceRecordSet=have[k]) for k in have if k not in want]
    creates = [dict(Action="CREATE", ResourceRecordSet=want[k]) for k in want if k not in have]
    return deletes + creates


def apply_changes(current, batch):
    """The records after a batch (what check mode predicts)."""
    deleted = {_canonical(c["ResourceRecordSet"]) for c in batch if c["Action"] == "DELETE"}
    kept = [r for r in current if _canonical(r) not in deleted]
    return kept + [c["ResourceRecordSet"] for c in batch if c["Action"] == "CREATE"]


def view(records, targets):
    """Records for people (--diff, results): by set identifier, without Route 53's envelope."""
    out = {}
    for record in records:
        entry = dict(type=record["Type"], target=record_target(record), region=region_of(record, targets))
        for key, label in (("Failover", "failover"), ("Weight", "weight"), ("TTL", "ttl"), ("HealthCheckId", "health_check")):
            if key in record:
                entry[label] = record[key]
        if "AliasTarget" in record:
            entry["alias"] = True
        out[record.get("SetIdentifier") or "(simple)"] = entry
    return out


class RecordChange:
    """The plan of a DNS mode: one ChangeBatch for one name (empty when the records are right)."""

    def __init__(self, name, action, current, wanted):
        self.name, self.current, self.wanted = name, current, wanted
        self.changes = changes(current, wanted)
        self.changed = bool(self.changes)
        self.action = action if self.changed else "none"
        self.change_id = None

    def as_dict(self):
        return dict(name=self.name, action=self.action,
                    changes=[dict(action=c["Action"], set_identifier=c["ResourceRecordSet"].get("SetIdentifier"),
                                  type=c["ResourceRecordSet"]["Type"]) for c in self.changes])


def send_changes(route53, zone_id, action, comment):
    """Send the plan's changes as one ChangeBatch; returns the change id to poll."""
    info = route53.change_resource_record_sets(
        aws_retry=True, HostedZoneId=zone_id,
        ChangeBatch=dict(Comment=comment, Changes=action.changes))["ChangeInfo"]
    action.change_id = info["Id"].split("/")[-1]
    return info


def change_status(route53, change_id):
    return route53.get_change(aws_retry=True, Id=change_id)["ChangeInfo"]["Status"]


# ---- health checks -----------------------------------------------------------------------------

HEALTH_CHECK_FIELDS = ("Type", "FullyQualifiedDomainName", "Port", "ResourcePath", "RequestInterval", "FailureThreshold")
# What UpdateHealthCheck can change in place; Type and RequestInterval need a new check.
UPDATABLE = ("FullyQualifiedDomainName", "Port", "ResourcePath", "FailureThreshold")


def check_health_check_specs(specs, targets_by_role):
    """Problems with the health checks asked for, each naming the check and the value."""
    problems = ["health_checks: %r is given more than once" % n for n in duplicates(s["name"] for s in specs)]
    for spec in specs:
        label = "health_checks[%s]" % spec["name"]
        if spec["interval"] not in HEALTH_CHECK_INTERVALS:
            problems.append("%s.interval: %r; Route 53 checks every 10 or 30 seconds" % (label, spec["interval"]))
        if not 1 <= spec["threshold"] <= 10:
            problems.append("%s.threshold: %r is not from 1 to 10" % (label, spec["threshold"]))
        if not spec["path"].startswith("/"):
            problems.append("%s.path: %r must start with /" % (label, spec["path"]))
        if not spec.get("fqdn") and spec.get("target") not in targets_by_role:
            problems.append("%s: give fqdn, or target (primary or standby), got target=%r" % (label, spec.get("target")))
    return problems


def health_check_config(spec, targets_by_role):
    host = spec.get("fqdn") or targets_by_role[spec["target"]].dns_name
    return dict(Type=spec["type"], FullyQualifiedDomainName=host, Port=spec["port"], ResourcePath=spec["path"],
                RequestInterval=spec["interval"], FailureThreshold=spec["threshold"],
                EnableSNI=spec["type"].startswith("HTTPS"))


def list_health_checks_by_name(route53, names):
    """{name: health check} for the checks named by their Name tag or CallerReference.

    One ListHealthChecks listing (there is no filter) and one ListTagsForResources per 10 checks.
    """
    checks = []
    marker = None
    while True:
        page = route53.list_health_checks(aws_retry=True, **(dict(Marker=marker) if marker else {}))
        checks.extend(page["HealthChecks"])
        if not page.get("IsTruncated"):
            break
        marker = page["NextMarker"]
    found = {c["CallerReference"]: c for c in checks if c["CallerReference"] in names}
    ids = [c["Id"] for c in checks]
    by_id = {c["Id"]: c for c in checks}
    for start in range(0, len(ids), 10):
        tagged = route53.list_tags_for_resources(aws_retry=True, ResourceType="healthcheck",
                                                 ResourceIds=ids[start:start + 10])["ResourceTagSets"]
        for tag_set in tagged:
            for tag in tag_set.get("Tags", []):
                if tag["Key"] == "Name" and tag["Value"] in names:
                    found[tag["Value"]] = by_id[tag_set["ResourceId"]]
    return found


class HealthCheckAction:
    """Create, update or leave one health check."""

    def __init__(self, name, existing, config):
        self.name, self.existing, self.config = name, existing, config
        old = (existing or {}).get("HealthCheckConfig", {})
        self.updates = {k: config[k] for k in UPDATABLE if existing and old.get(k) != config[k]}
        self.action = "create" if existing is None else ("update" if self.updates else "none")
        self.changed = self.action != "none"
        self.id = existing["Id"] if existing else None

    def as_dict(self):
        return dict(name=self.name, action=self.action, id=self.id, updates=sorted(self.updates))

    def view(self, after=False):
        if self.existing is None and not after:
            return None
        source = self.config if after else self.existing["HealthCheckConfig"]
        return {k: source.get(k) for k in HEALTH_CHECK_FIELDS}


def immutable_differences(action):
    """Type or interval of an existing check differ: Route 53 cannot change them in place."""
    if action.existing is None:
        return []
    old = action.existing["HealthCheckConfig"]
    return ["health_checks[%s].%s: the check %s has %r, asked %r; Route 53 cannot change it in place (delete the check first)"
            % (action.name, key, action.id, old.get(key), action.config[key])
            for key in ("Type", "RequestInterval") if old.get(key) != action.config[key]]


def ensure_health_check(route53, action):
    if action.action == "create":
        created = route53.create_health_check(aws_retry=True, CallerReference=action.name,
                                              HealthCheckConfig=action.config)["HealthCheck"]
        action.id = created["Id"]
        route53.change_tags_for_resource(aws_retry=True, ResourceType="healthcheck", ResourceId=action.id,
                                         AddTags=[dict(Key="Name", Value=action.name)])
    elif action.action == "update":
        version = action.existing["HealthCheckVersion"]
        route53.update_health_check(aws_retry=True, HealthCheckId=action.id, HealthCheckVersion=version, **action.updates)
    return action.id
