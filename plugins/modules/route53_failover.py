#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: route53_failover
short_description: Move a Route 53 name between two regions' load balancers, and report where it answers
version_added: 0.1.0
description:
  - The DNS moves of a regional failover for one name (for example C(api.lomashwood.com)) served by an
    ALB in each of two regions.
  - I(mode=status) reads the name's records and their health checks as Route 53's checkers see them
    (C(GetHealthCheckStatus)), and says which region Route 53 answers with now and whether it failed over
    on its own (the records untouched, the PRIMARY's check failing). Changes nothing.
  - I(mode=failover) makes the standby's record the PRIMARY and the primary's the SECONDARY;
    I(mode=failback) puts them back. Only the C(Failover) value of each record moves; set identifiers,
    targets and health checks stay, so failback restores the records exactly. A swap is chosen over
    inverting the PRIMARY's health check because an inverted check reports healthy while its target
    fails, which during a real outage would send traffic to the region that is down.
  - I(mode=weighted) writes weighted records with the given weight per region (a failback's
    10, 50, 100 percent shift). Converting between failover and weighted records is one atomic change.
  - I(mode=shift) is a failback's whole traffic shift in one run - read the records, then for each of
    I(shift_weights) the weighted records with that share to I(shift_to), C(INSYNC), a hold of I(hold_seconds),
    and a health gate (the health checks of I(shift_to)'s records healthy as Route 53's checkers see them, and
    each of I(gate_urls) answering 200 from I(shift_to)); a failed gate puts back what was there before the step
    and fails, naming the step, the gate and why. After the last step (100), failover records with I(shift_to)
    as PRIMARY. A rerun resumes from the weights in place (never moving traffic back on the way; a step whose
    weights are in place already is gated again, and if it fails, the step before's weights are put back, or
    failover routing with the other region PRIMARY before the first step, as in a run from the start), and
    changes nothing once done. Each step is returned in C(steps).
  - I(mode=health_checks) ensures the health checks given (by C(Name) tag) exist with that configuration.
  - Targets are given as an ALB's name or ARN and its region, and are resolved to the ALB's DNS name and
    canonical hosted zone. All changes of one run go in one C(ChangeBatch) (C(DELETE) of the records as
    read, C(CREATE) of the new ones), then the module waits for C(INSYNC). A record edited by someone else
    meanwhile makes Route 53 refuse the whole batch; nothing is half applied.
  - Only the records of the name are read (C(StartRecordName)), never the whole zone; a zone given by name
    is found with one C(ListHostedZonesByName).
  - Before any change, every input is checked and each problem named - an unknown zone or record, a missing ALB,
    a region that is not an AWS region, weights outside 0-255 or all zero, a TTL given for alias records,
    records of the name that point at neither target (hand edits are refused, never deleted).
  - Idempotent; check mode and C(--diff) show the records before and after.
author:
  - Lomash Wood platform team (@lomashwood)
options:
  mode:
    description: What to do; see the description.
    type: str
    required: true
    choices: [status, failover, failback, weighted, shift, health_checks]
  zone:
    description: The hosted zone, by name (C(lomashwood.com)) or id.
    type: str
    required: true
  private_zone:
    description: With a zone name, look for the private zone of that name instead of the public one.
    type: bool
    default: false
  record:
    description: The name that moves. Required except with I(mode=health_checks).
    type: str
  primary:
    description: The primary region's target. Required except with I(mode=health_checks).
    type: dict
    suboptions:
      region:
        description: The ALB's region.
        type: str
        required: true
      alb:
        description: The ALB's name or ARN.
        type: str
        required: true
      health_check:
        description:
          - The health check of this target's record, by id or C(Name) tag. By default the record keeps
            the check it has.
        type: str
  standby:
    description: The standby region's target; the same suboptions as I(primary).
    type: dict
    suboptions:
      region:
        description: The ALB's region.
        type: str
        required: true
      alb:
        description: The ALB's name or ARN.
        type: str
        required: true
      health_check:
        description: The health check of this target's record, by id or C(Name) tag.
        type: str
  weights:
    description:
      - With I(mode=weighted), the weight of each region, 0 to 255 (for example 10 for C(eu-west-1) and 90
        for C(eu-west-2)). Every target region needs one; not all may be zero.
    type: dict
  alias:
    description:
      - Write alias C(A) records to the ALBs (true), or C(CNAME) records to the ALBs' DNS names with I(ttl).
      - Records already there are converted in the same change.
    type: bool
    default: true
  ttl:
    description: The TTL of C(CNAME) records (I(alias=false)); alias records take the ALB's and refuse one.
    type: int
  evaluate_target_health:
    description: With alias records, let Route 53 check the ALB's own health too.
    type: bool
    default: true
  comment:
    description: The change batch's comment (visible in CloudTrail).
    type: str
    default: lomashwood.multiregion.route53_failover
  primary_call_timeout:
    description:
      - Seconds the primary region's ELBv2 API is given (one attempt, no retry). During an outage it does
        not answer; the primary's target is then found in the name's records, as the one record set that
        does not point at the standby.
    type: float
    default: 5
  ask_primary:
    description:
      - Whether to look up the primary's ALB in its region at all. C(false) when the caller already found
        that region not answering (for example with M(lomashwood.multiregion.region_probe)); its target is
        then found in the name's records at once, as when the lookup fails, instead of waiting
        I(primary_call_timeout) on it again.
      - With I(mode=health_checks), which needs the ALB's DNS name, C(false) is refused.
    type: bool
    default: true
  shift_weights:
    description:
      - With I(mode=shift), the percentage of the traffic sent to I(shift_to) at each step, rising, ending at 100.
    type: list
    elements: raw
  shift_to:
    description: With I(mode=shift), the region the traffic moves to (one of I(primary) and I(standby)).
    type: str
  hold_seconds:
    description:
      - >-
        With I(mode=weighted), I(mode=failover) or I(mode=failback), once the change is C(INSYNC) (or
        nothing needed changing), hold this long, then read the records' health checks (returned in
        C(health), and C(status) answers with them), so a traffic shift step's soak and its Route 53
        gate are one run. With I(mode=shift), each step's soak before its gate. Not in check mode.
    type: float
    default: 0
  gate_urls:
    description:
      - >-
        With I(mode=weighted), I(mode=failover) or I(mode=failback), after the change and the hold (I(hold_seconds)),
        each URL is asked once (C(GET)), all at once and beside the health checks' read, and every answer is returned
        in C(gate_answers): a traffic shift step's health gate (the region's own C(/health)) in the same run as its
        weights and its soak. An answer that is not 200, or no answer, does not fail the module: the caller judges
        the gate. With I(mode=shift), each step's gate (required). Not in check mode.
    type: list
    elements: str
    default: []
  gate_timeout:
    description: Seconds each of I(gate_urls) may take to answer.
    type: float
    default: 10
  gate_validate_certs:
    description: Whether the TLS certificates of I(gate_urls) are checked.
    type: bool
    default: true
  health_checks:
    description: With I(mode=health_checks), the checks to ensure, each found by its C(Name) tag.
    type: list
    elements: dict
    suboptions:
      name:
        description: The check's C(Name) tag (and its caller reference when created).
        type: str
        required: true
      target:
        description: Probe this target's ALB DNS name.
        type: str
        choices: [primary, standby]
      fqdn:
        description: Probe this host name instead of a target's ALB.
        type: str
      path:
        description: The path requested.
        type: str
        default: /health
      interval:
        description: Seconds between two requests of one checker, 10 or 30 (cannot change later).
        type: int
        default: 10
      threshold:
        description: Consecutive failures or successes that change the check's status, 1 to 10.
        type: int
        default: 3
      type:
        description: The protocol.
        type: str
        default: HTTPS
        choices: [HTTP, HTTPS, HTTP_STR_MATCH, HTTPS_STR_MATCH, TCP]
      port:
        description: The port probed.
        type: int
        default: 443
  wait:
    description: Wait until the change is C(INSYNC) on Route 53's name servers.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for C(INSYNC); with I(mode=shift), for each move's.
    type: int
    default: 300
  poll_interval:
    description: Seconds between two C(GetChange) calls.
    type: float
    default: 5
extends_documentation_fragment:
  - lomashwood.multiregion.batch
  - lomashwood.multiregion.attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Route 53 is global; the module's I(region) is not used for it. Each ALB is looked up in its own region.
  - The names' records of types C(A) and C(CNAME) are the ones managed; other types (C(AAAA), C(TXT)) are left alone.
"""

EXAMPLES = r"""
- name: Where does api.lomashwood.com answer now, and did Route 53 fail over on its own?
  lomashwood.multiregion.route53_failover:
    mode: status
    zone: lomashwood.com
    record: api.lomashwood.com
    primary: {region: eu-west-1, alb: lomash-wood-alb-euw1}
    standby: {region: eu-west-2, alb: lomash-wood-alb-euw2}
    alias: false
    ttl: 60
  register: dns

# Also when health-check failover already sent the traffic there (dns.status.auto_failed_over):
# the swap then pins it, so it does not go back to eu-west-1 the moment its check passes again.
- name: Make the standby's record the PRIMARY for api.lomashwood.com
  lomashwood.multiregion.route53_failover:
    mode: failover
    zone: lomashwood.com
    record: api.lomashwood.com
    primary: {region: eu-west-1, alb: lomash-wood-alb-euw1}
    standby: {region: eu-west-2, alb: lomash-wood-alb-euw2}
    alias: false
    ttl: 60

- name: Failback, first step - 10 % of the traffic back to eu-west-1
  lomashwood.multiregion.route53_failover:
    mode: weighted
    zone: lomashwood.com
    record: api.lomashwood.com
    primary: {region: eu-west-1, alb: lomash-wood-alb-euw1}
    standby: {region: eu-west-2, alb: lomash-wood-alb-euw2}
    weights: {eu-west-1: 10, eu-west-2: 90}
    alias: false
    ttl: 60

- name: Failback - the traffic back to eu-west-1 by 10, 50, 100 percent, each step held 5 minutes behind its gate
  lomashwood.multiregion.route53_failover:
    mode: shift
    zone: lomashwood.com
    record: api.lomashwood.com
    primary: {region: eu-west-1, alb: lomash-wood-alb-euw1}
    standby: {region: eu-west-2, alb: lomash-wood-alb-euw2}
    shift_weights: [10, 50, 100]
    shift_to: eu-west-1
    hold_seconds: 300
    gate_urls: [https://euw1.api.lomashwood.com/health]
    alias: false
    ttl: 60
    wait_timeout: 300  # each move's wait for INSYNC
  register: shift

- name: The platform's health checks
  lomashwood.multiregion.route53_failover:
    mode: health_checks
    zone: lomashwood.com
    primary: {region: eu-west-1, alb: lomash-wood-alb-euw1}
    health_checks:
      - {name: lomash-wood-api-gateway-eu-west-1, target: primary, path: /health, interval: 10, threshold: 3}
      - {name: lomash-wood-auth-eu-west-1, target: primary, path: /v1/auth/health, interval: 30, threshold: 3}
"""

RETURN = r"""
extends_documentation_fragment:
  - lomashwood.multiregion.batch
changed:
  description: Whether a change was sent (or, in check mode, would be).
  returned: always
  type: bool
plan:
  description: The change planned, with each record set to delete or create.
  returned: when mode is not shift
  type: list
  elements: dict
  sample: [{"name": "api.lomashwood.com", "action": "failover", "changes": [{"action": "DELETE", "set_identifier": "eu-west-1", "type": "CNAME"}]}]
results:
  description:
    - One entry for the name (records modes), or one per health check. C(before) and C(after) are the
      records by set identifier (type, target, region, failover or weight, ttl, health check).
    - With I(mode=shift), one entry per move, in order (the records read, each step, a rollback, failover routing).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "api.lomashwood.com", "action": "failover", "changed": true, "change_id": "C2682N5HXP0BZ4",
            "status": "INSYNC", "seconds": 1.2, "before": {}, "after": {}, "error": null}]
status:
  description:
    - Records modes. C(shape) (failover, weighted, simple, none), C(serving_region) (the region Route 53
      answers with, from the health checks; null for a weighted split), C(weights) (share per region for
      weighted records), C(primary_role_region) (whose record is PRIMARY), C(auto_failed_over).
    - Health-dependent values come from C(GetHealthCheckStatus), read in I(mode=status), I(mode=failover)
      and I(mode=failback) (not in I(mode=weighted)).
  returned: when mode is not health_checks
  type: dict
  sample: {"shape": "failover", "serving_region": "eu-west-2", "weights": null, "primary_role_region": "eu-west-1", "auto_failed_over": true}
held_seconds:
  description: With I(hold_seconds), how long the run held after the move before reading the health checks.
  returned: when hold_seconds is more than 0, not in check mode, not in mode=shift (each step's is in C(steps))
  type: float
  sample: 300.0
status_before:
  description:
    - In I(mode=failover) and I(mode=failback), the name's state before the change, as I(mode=status) would
      have reported it (C(auto_failed_over) true when Route 53 had already sent the traffic to the standby on
      its own), so a move needs no separate status read.
  returned: when mode is failover or failback
  type: dict
  sample: {"shape": "failover", "serving_region": "eu-west-2", "weights": null, "primary_role_region": "eu-west-1", "auto_failed_over": true}
gate_answers:
  description:
    - With I(gate_urls), each URL's answer, in their order, in the shape of an M(ansible.builtin.uri) result
      (C(url), C(status), C(-1) when nothing answered, C(json) when the body is JSON, C(msg)).
  returned: when gate_urls is given, not in check mode, not in mode=shift (each step's gate is in C(steps))
  type: list
  elements: dict
  sample: [{"url": "https://euw1.api.lomashwood.com/health", "status": 200, "json": {"region": "eu-west-1"}, "msg": "OK"}]
steps:
  description:
    - With I(mode=shift), each step - its C(step) (a number, or C(restore) for the failover routing after the last,
      with C(routing)), C(percent), C(weights), C(outcome) (C(changed), C(ok), C(skipped) when a resumed shift is past it,
      with C(reason); C(planned) in check mode; C(rolled_back) when its gate failed; C(rollback_failed) when putting
      back failed too, with C(rollback_error); C(failed) when its move failed, with C(error)), C(gate) (C(ok),
      C(reasons), C(route53), C(health); null in check mode), C(change_id), C(rolled_back_to), C(rollback_change_id)
      and C(seconds) (C(insync), C(soak), C(total)).
  returned: when mode is shift
  type: list
  elements: dict
  sample: [{"step": 1, "percent": 10, "weights": {"eu-west-1": 10, "eu-west-2": 90}, "outcome": "changed",
            "gate": {"ok": true, "reasons": []}, "change_id": "C2682N5HXP0BZ4", "seconds": {"insync": 61.0, "soak": 300.0, "total": 362.4}}]
outcome:
  description:
    - With I(mode=shift), the shift as one report step - C(changed), C(ok), C(skipped) (nothing to shift, or check
      mode) or C(failed) - and C(reason) says why, C(start) what it started from (C(shape), C(weights) or
      C(primary_role_region)).
  returned: when mode is shift
  type: str
  sample: changed
reason:
  description: With I(mode=shift), why the shift had the C(outcome) it had, in a sentence.
  returned: when mode is shift
  type: str
  sample: traffic shifted 10 -> 50 -> 100 % to eu-west-1, then failover routing with eu-west-1 as PRIMARY
start:
  description: With I(mode=shift), the records the shift started from (C(shape); C(weights) or C(primary_role_region)).
  returned: when mode is shift
  type: dict
  sample: {"shape": "failover", "primary_role_region": "eu-west-2"}
to_region:
  description: With I(mode=shift), I(shift_to).
  returned: when mode is shift
  type: str
started:
  description: With I(mode=shift), when the run started (seconds since the epoch), for the report's step.
  returned: when mode is shift
  type: float
health:
  description: In I(mode=status) (and after I(hold_seconds)), each health check of the records, by id, as Route 53's checkers see it.
  returned: when mode is status, or after hold_seconds
  type: dict
  sample: {"3f1c...": {"id": "3f1c...", "healthy": false, "checkers": 3, "checkers_healthy": 0}}
targets:
  description: The targets as resolved (region, ALB, DNS name, canonical hosted zone).
  returned: always
  type: dict
zone_id:
  description: The hosted zone's id.
  returned: always
  type: str
health_check_ids:
  description: With I(mode=health_checks), each check's id by name.
  returned: when mode is health_checks
  type: dict
"""

import concurrent.futures
import time

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.lomashwood.multiregion.plugins.module_utils import aws, http_get
from ansible_collections.lomashwood.multiregion.plugins.module_utils import route53 as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils import traffic_shift as shift
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import (
    Adapter, ApiCallCounter, BatchError, ModuleFailure, batch_argument_spec, diff_of, execute,
    run_batch, run_concurrently, write_progress)

RECORD_MODES = ("status", "failover", "failback", "weighted", "shift")
SHIFT_NAMES = dict(weights="shift_weights", to="shift_to", urls="gate_urls")
HOLD_PROGRESS_EVERY = 30  # seconds; the progress printer's heartbeat
TARGET_OPTIONS = dict(region=dict(type="str", required=True), alb=dict(type="str", required=True),
                      health_check=dict(type="str"))


class _Dns(Adapter):
    """What both adapters share: the clients, the zone and the targets resolved."""

    noun = "DNS change"
    progress_what, progress_done_word = "DNS change", "INSYNC"  # "DNS change: 0/1 INSYNC, pending: api... (change PENDING)"
    refusal = "Refusing to change DNS"
    failure = "Failed to change DNS"

    def __init__(self, module, counter):
        self.module, self.params, self.counter = module, module.params, counter
        self.route53 = aws.client(module, "route53", counter, retry=core.RETRY)
        self.targets = [core.Target(role, self.params[role]["region"], self.params[role]["alb"],
                                    self.params[role].get("health_check"))
                        for role in ("primary", "standby") if self.params.get(role)]
        self.zone_id = None

    def resolve(self, problems):
        """Check the inputs, find the zone and the ALBs; every problem at once, before any change.

        The primary's ALB is looked up briefly (one attempt, primary_call_timeout): during an
        outage its region does not answer. Returns the targets that could not be looked up.
        """
        problems = core.check_targets(self.targets, core.aws_regions()) + problems
        if problems:
            raise BatchError(problems)
        self.zone_id = core.find_zone(self.route53, self.params["zone"], self.params["private_zone"])

        def lookup(target):
            brief = self.params["primary_call_timeout"] if target.role == "primary" else None
            elbv2 = aws.client(self.module, "elbv2", self.counter, region=target.region, timeout=brief)
            return core.describe_alb(elbv2, target)

        unreachable = []
        asked = self.targets
        if not self.params["ask_primary"]:  # the caller knows the region does not answer: no second wait on it
            asked = [t for t in self.targets if t.role != "primary"]
            for target in self.targets:
                if target.role == "primary":
                    target.unreachable = "not asked (ask_primary=false: found not answering before)"
                    unreachable.append(target)
        for target, found, exc in run_concurrently(lookup, asked, self.params["max_concurrency"]):
            if exc is not None and target.role != "primary":
                raise exc
            if exc is not None:
                target.unreachable = self.describe_error(exc)
                unreachable.append(target)
            elif found is None:
                problems.append("%s.alb: no load balancer %r in %s" % (target.role, target.alb, target.region))
            else:
                target.resolved(found)
        if problems:
            raise BatchError(problems)
        return unreachable

    def describe_error(self, exc):
        return str(exc).split(": ", 1)[-1] if getattr(exc, "response", None) else str(exc)

    def targets_view(self):
        return {t.role: dict(region=t.region, alb=t.alb, dns_name=t.dns_name, hosted_zone_id=t.hosted_zone_id,
                             source=t.source) for t in self.targets}


class RecordMove(_Dns):
    """status / failover / failback / weighted: one ChangeBatch for the name, then GetChange."""

    def __init__(self, module, counter):
        super().__init__(module, counter)
        self.name = core.fqdn(self.params["record"]).rstrip(".")
        self.unreachable = None  # the targets whose region did not answer, once resolved
        self.begin(self.params)

    def begin(self, params, label=None):
        """A move's own state: the run's one move, or another in the same run (mode=shift, with its arguments and
        progress label); the zone and the targets are resolved once."""
        self.params = params
        if label:
            self.progress_what = "%s: DNS change" % label
        self.move_started = time.monotonic()
        self.records, self.health, self.status, self.plan_change_id, self.gate_answers = [], {}, None, None, []

    def input_problems(self):
        p = self.params
        problems = []
        if p["alias"] and p["ttl"] is not None:
            problems.append("ttl: alias records take the ALB's TTL; got ttl=%s with alias=true" % p["ttl"])
        if not p["alias"] and p["ttl"] is not None and not 0 <= p["ttl"] <= 2147483647:
            problems.append("ttl: %s is not from 0 to 2147483647" % p["ttl"])
        if p["mode"] == "weighted":
            if not p["weights"]:
                problems.append("weights: required with mode=weighted")
            else:
                problems.extend(core.check_weights(_ints(p["weights"]), self.targets))
        elif p["weights"]:
            problems.append("weights: only used with mode=weighted, got mode=%s" % p["mode"])
        if not 0 <= (p["hold_seconds"] or 0) <= 3600:
            problems.append("hold_seconds: between 0 and 3600, got %s" % p["hold_seconds"])
        problems.extend("gate_urls: %r is not an http(s) URL" % url for url in p["gate_urls"] or []
                        if not str(url).startswith(("http://", "https://")))
        if p["mode"] == "shift":
            problems.extend(shift.shift_problems(p["shift_weights"], p["shift_to"], [t.region for t in self.targets],
                                                 {p["shift_to"]: p["gate_urls"]}, names=SHIFT_NAMES))
        if p["gate_urls"] and p["mode"] == "status":
            problems.append("gate_urls: only used with a change (mode weighted, failover or failback), got mode=status")
        if not 0 < p["gate_timeout"] <= 300:
            problems.append("gate_timeout: more than 0 and at most 300, got %s" % p["gate_timeout"])
        return problems

    def observe(self):
        problems = self.input_problems()
        if self.unreachable is None:
            self.unreachable = self.resolve(problems)
            self._resolve_health_check_names()
        elif problems:
            raise BatchError(problems)
        unreachable = self.unreachable
        self.records = core.read_records(self.route53, self.zone_id, self.name)
        resolved = [t for t in self.targets if t not in unreachable]
        problems = [p for p in (core.resolve_from_records(t, self.records, resolved) for t in unreachable) if p]
        if problems:
            raise BatchError(problems)
        # Health too where the result says who answered before (a move: status_before, for the report).
        if self.params["mode"] in ("status", "failover", "failback"):
            self.health = self._read_health(self.records)
        return {self.name: self.records}

    def _read_health(self, records):
        """The records' health checks as Route 53's checkers see them, all at once: {check id: status}."""
        health = {}
        for check, found, exc in run_concurrently(lambda c: core.health_status(self.route53, c),
                                                  core.health_check_ids(records), self.params["max_concurrency"]):
            if exc is not None:
                raise exc
            health[check] = found
        return health

    def _resolve_health_check_names(self):
        named = [t for t in self.targets if t.health_check and not core.is_health_check_id(t.health_check)]
        if not named:
            return
        found = core.list_health_checks_by_name(self.route53, {t.health_check for t in named})
        missing = ["%s.health_check: no health check named %r" % (t.role, t.health_check)
                   for t in named if t.health_check not in found]
        if missing:
            raise BatchError(missing)
        for target in named:
            target.health_check = found[target.health_check]["Id"]

    def plan(self, observed):
        p = self.params
        mode = p["mode"]
        if mode == "status":
            return [core.RecordChange(self.name, "none", self.records, self.records)]
        if not self.records:
            # A move needs something to move: an unknown name is a typo, not a record to create.
            raise BatchError(["record: no A or CNAME records named %r in zone %r" % (self.name, p["zone"])])
        stray = core.strangers(self.records, self.targets)
        if stray:
            raise BatchError(["record %s: set %r points at %s, which is neither target; refusing to replace it"
                              % (self.name, r.get("SetIdentifier", "(simple)"), core.record_target(r)) for r in stray])
        if p["alias"]:
            unknown = ["%s.alb: its canonical hosted zone is unknown (%s); alias records need it"
                       % (t.role, t.source) for t in self.targets if not t.hosted_zone_id]
            if unknown:
                raise BatchError(unknown)
        desired = core.Desired(self.name, p["alias"], p["ttl"] if p["ttl"] is not None else 60, p["evaluate_target_health"])
        primary, standby = self.targets
        if mode == "weighted":
            wanted = core.wanted_weighted(desired, self.records, self.targets, _ints(p["weights"]))
        else:
            wanted = core.wanted_failover(desired, self.records, primary, standby,
                                          standby if mode == "failover" else primary)
        return [core.RecordChange(self.name, mode, self.records, wanted)]

    def simulate(self, plan, observed):
        return {a.name: core.apply_changes(a.current, a.changes) for a in plan}

    def apply(self, plan):
        self.status = core.send_changes(self.route53, self.zone_id, plan[0], self.params["comment"])["Status"]
        self.plan_change_id = plan[0].change_id
        return plan, {}

    def poll(self):
        # One GetChange per poll, and none once INSYNC (a change may come back INSYNC at once).
        if self.status != "INSYNC":
            self.status = core.change_status(self.route53, self.plan_change_id)
        return {self.name: self.status}

    def is_done(self, action, state):
        return not action.changed or state == "INSYNC"

    def progress(self, name, state):
        return "change %s" % state

    def summarise(self, plan, before, after, done, failures, check_mode):
        action = plan[0]
        sent = action.changed and not check_mode
        records = core.apply_changes(action.current, action.changes) if action.changed else action.current
        moves = self.params["mode"] in ("failover", "failback")
        before = core.status(action.current, self.health, self.targets, self.targets[0].region) if moves else None
        # The soak and the gate follow a move that is INSYNC (or had nothing to change), never one that timed out.
        held = self._hold(records) if self.params["mode"] != "status" and not check_mode and action.name in done else None
        result = dict(
            name=action.name, action=action.action, changed=action.changed,
            change_id=action.change_id, status=self.status if sent else None,
            before=core.view(action.current, self.targets), after=core.view(records, self.targets),
            seconds=done.get(action.name), error=None,
        )
        out = dict(results=[result], diff=diff_of([result], key="records", record=action.name),
                   zone_id=self.zone_id, targets=self.targets_view(), records=result["after"],
                   status=core.status(records, self.health, self.targets, self.targets[0].region))
        if self.params["mode"] == "status":
            out["health"] = self.health
        if moves:
            out["status_before"] = before
        if held is not None:
            out.update(health=self.health, held_seconds=held)
            if self.params["gate_urls"]:
                out["gate_answers"] = self.gate_answers
        return out

    def _hold(self, records):
        """The soak after a move, then the records' health checks as Route 53's checkers see them now, and the
        gate's URLs asked at the same time."""
        seconds = self.params["hold_seconds"] or 0
        urls = self.params["gate_urls"] or []
        if seconds <= 0 and not urls:
            return None
        started = time.monotonic()
        while True:  # the progress rewritten every HOLD_PROGRESS_EVERY s: how far the hold is
            held = time.monotonic() - started
            if held >= seconds:
                break
            if self.params.get("progress_file"):
                write_progress(self.params["progress_file"], self.progress_what, 1, [self.name], {},
                               time.monotonic() - self.move_started, "INSYNC",
                               note="holding %d/%g s, then the gate" % (held, seconds))
            time.sleep(min(HOLD_PROGRESS_EVERY, seconds - held))
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(urls) + 1) as pool:
            asked = [pool.submit(_ask, url, self.params["gate_timeout"], self.params["gate_validate_certs"]) for url in urls]
            self.health = self._read_health(records)
            self.gate_answers = [answer.result() for answer in asked]
        return round(time.monotonic() - started, 2)


class HealthChecks(_Dns):
    """health_checks: create or update each check named; no wait (Route 53 applies them at once)."""

    noun = "health check"
    failure = "Failed to ensure the health checks"

    def observe(self):
        specs = self.params["health_checks"] or []
        by_role = {t.role: t for t in self.targets}
        problems = [] if specs else ["health_checks: required with mode=health_checks"]
        unreachable = self.resolve(problems + core.check_health_check_specs(specs, by_role))
        if unreachable:
            raise BatchError(["%s.alb: %r could not be looked up in %s (%s)" % (t.role, t.alb, t.region, t.unreachable)
                              for t in unreachable])
        found = core.list_health_checks_by_name(self.route53, {s["name"] for s in specs})
        return {s["name"]: found.get(s["name"]) for s in specs}

    def plan(self, observed):
        by_role = {t.role: t for t in self.targets}
        plan = [core.HealthCheckAction(s["name"], observed[s["name"]], core.health_check_config(s, by_role))
                for s in self.params["health_checks"]]
        problems = [p for action in plan for p in core.immutable_differences(action)]
        if problems:
            raise BatchError(problems)
        return plan

    def simulate(self, plan, observed):
        return observed

    def apply(self, plan):
        changed = [a for a in plan if a.changed]
        outcomes = run_concurrently(lambda a: core.ensure_health_check(self.route53, a), changed,
                                    self.params["max_concurrency"])
        return plan, {a.name: exc for a, _id, exc in outcomes if exc is not None}

    def poll(self):
        return {}

    def is_done(self, action, state):
        return True

    def summarise(self, plan, before, after, done, failures, check_mode):
        results = [dict(name=a.name, action=a.action, id=a.id, changed=a.changed and a.name not in failures,
                        before=a.view(), after=a.view(after=True), seconds=done.get(a.name),
                        error=str(failures[a.name]) if a.name in failures else None) for a in plan]
        return dict(results=results, diff=diff_of(results, key="health_checks"), zone_id=self.zone_id,
                    targets=self.targets_view(), health_check_ids={a.name: a.id for a in plan})


def _ints(weights):
    """Weights as given on a command line may be strings: '10' is 10; anything else is left for the check."""
    return {k: int(v) if isinstance(v, str) and v.strip().isdigit() else v for k, v in (weights or {}).items()}


def _ask(url, timeout, validate_certs):
    """One GET of a gate URL, as an ansible.builtin.uri result would hold it: {url, status, json, msg}."""
    answer = http_get.get(url, timeout, validate_certs)
    return {key: answer[key] for key in ("url", "status", "json", "msg")}


class WholeShift(RecordMove):
    """mode=shift: RecordMove's moves one after another in one run (traffic_shift.run_shift lays them out)."""

    refusal = "Refusing to shift traffic"
    failure = "Failed to shift traffic"


def run_whole_shift(adapter, options, counter):
    """The flow of mode=shift: the records read, then each step, its gate and the failover routing after, each a
    move of the one adapter (zone and targets resolved once). Returns the result; raises BatchError (nothing
    changed) or ModuleFailure (with the steps done)."""
    p, started, epoch = adapter.params, time.monotonic(), time.time()
    problems = adapter.input_problems()
    if problems:  # before any call
        raise BatchError(problems)
    phases, steps = [], []

    def move(label, args, gated):
        params = dict(p, mode=args["mode"], weights=args.get("weights"), hold_seconds=p["hold_seconds"] if gated else 0,
                      gate_urls=p["gate_urls"] if gated and not options.check_mode else [])
        adapter.begin(params, label)
        phases.append(run_batch(adapter, options, counter))
        if phases[-1].get("diff"):  # --diff names each move: the plan of a whole shift, step by step
            phases[-1]["diff"].update(before_header="%s, before %s" % (adapter.name, label),
                                      after_header="%s, after %s" % (adapter.name, label))
        return phases[-1]

    status = move("read the records the shift starts from", {"mode": "status"}, False)
    regions = {t.role: t.region for t in adapter.targets}
    plan = shift.plan_shift(status, p["shift_weights"], p["shift_to"], regions["primary"], regions["standby"])
    if plan["problems"]:
        raise BatchError(plan["problems"])

    def result(failure=None, partial=None):
        """The module's result; partial: what a move that failed had done (a ModuleFailure's result)."""
        outcome, reason = shift.shift_outcome(plan, steps, failure, p["shift_weights"], p["shift_to"], options.check_mode)
        moves = phases[1:] + ([partial] if partial else [])
        last = partial if partial and partial.get("records") is not None else phases[-1]
        out = dict(changed=any(r.get("changed") for r in moves), steps=steps, outcome=outcome, reason=reason,
                   start=plan["start"], to_region=p["shift_to"], started=round(epoch, 3),
                   results=[r for move in phases[:1] + moves for r in move.get("results", [])], records=last["records"],
                   status=last["status"], zone_id=adapter.zone_id, targets=adapter.targets_view(),
                   polls=sum(r.get("polls", 0) for r in phases[:1] + moves),
                   elapsed_seconds=round(time.monotonic() - started, 2), api_calls=counter.as_dict(), retries=counter.retries())
        if options.diff:
            out["diff"] = [r["diff"] for r in moves if r.get("diff")]
        return out

    try:
        failure = shift.run_shift(plan, move, p["shift_to"], options.check_mode, steps)[1]
    except Exception as exc:  # pylint: disable=broad-except
        # A move that failed (a timeout, an API error, a refusal) once the shift has begun: the message names the move,
        # and what was done by then, that move's change too, is part of the answer.
        partial = exc.result if isinstance(exc, ModuleFailure) else None
        why = str(exc) if partial is not None else adapter.describe_error(exc)
        msg = "%s at %s: %s" % (adapter.failure, adapter.progress_what.rsplit(": ", 1)[0], why)
        out = result(dict(reason=msg), partial)
        out.update({k: v for k, v in (partial or {}).items() if k in ("pending", "done")})
        raise ModuleFailure(msg, out) from exc
    if failure:
        raise ModuleFailure(failure["msg"], result(failure))
    return result()


def main():
    argument_spec = dict(
        mode=dict(type="str", required=True, choices=list(RECORD_MODES) + ["health_checks"]),
        zone=dict(type="str", required=True),
        private_zone=dict(type="bool", default=False),
        record=dict(type="str"),
        primary=dict(type="dict", options=TARGET_OPTIONS),
        standby=dict(type="dict", options=TARGET_OPTIONS),
        weights=dict(type="dict"),
        shift_weights=dict(type="list", elements="raw"),
        shift_to=dict(type="str"),
        alias=dict(type="bool", default=True),
        ttl=dict(type="int"),
        evaluate_target_health=dict(type="bool", default=True),
        comment=dict(type="str", default="lomashwood.multiregion.route53_failover"),
        primary_call_timeout=dict(type="float", default=5),
        ask_primary=dict(type="bool", default=True),
        hold_seconds=dict(type="float", default=0),
        gate_urls=dict(type="list", elements="str", default=[]),
        gate_timeout=dict(type="float", default=10),
        gate_validate_certs=dict(type="bool", default=True),
        health_checks=dict(type="list", elements="dict", options=dict(
            name=dict(type="str", required=True),
            target=dict(type="str", choices=["primary", "standby"]),
            fqdn=dict(type="str"),
            path=dict(type="str", default="/health"),
            interval=dict(type="int", default=10),
            threshold=dict(type="int", default=3),
            type=dict(type="str", default="HTTPS", choices=["HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP"]),
            port=dict(type="int", default=443),
        )),
        **batch_argument_spec(wait_timeout=300, poll_interval=5),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("mode", mode, ("record", "primary", "standby")) for mode in RECORD_MODES]
        + [("mode", "shift", ("shift_weights", "shift_to"))],
    )
    counter = ApiCallCounter()
    if module.params["mode"] == "shift":
        execute(module, lambda m: WholeShift(m, counter), counter, flow=run_whole_shift)
        return
    adapter = HealthChecks if module.params["mode"] == "health_checks" else RecordMove
    execute(module, lambda m: adapter(m, counter), counter)


if __name__ == "__main__":
    main()
