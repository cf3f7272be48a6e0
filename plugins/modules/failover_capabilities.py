#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: failover_capabilities
short_description: Read whether the standby region offers the database classes and the principal the permissions a failover needs
version_added: 0.2.0
description:
  - Two reads that no other module of the collection makes, for a readiness check (C(playbooks/readiness.yml)).
  - I(db_instance_classes) - whether RDS offers each class for I(engine) in I(region)
    (C(DescribeOrderableDBInstanceOptions)), since a failover scales the promoted databases to them.
  - I(actions) - whether the principal I(policy_source_arn) may call each action
    (C(iam:SimulatePrincipalPolicy)), for example the actions of C(docs/iam-policy.json).
  - An endpoint that does not implement a call (an emulator) is not an answer either way; the
    result says C(checked=false) and why, instead of claiming the class is not offered or the
    action denied.
  - Read-only; reports C(changed=false), in check mode too.
author:
  - Lomash Wood platform team (@lomashwood)
options:
  engine:
    description: The database engine of the classes, as RDS names it.
    type: str
    default: postgres
  db_instance_classes:
    description: The classes to look for in I(region). None, nothing is read.
    type: list
    elements: str
    default: []
  policy_source_arn:
    description: The user or role whose permissions are simulated. Required with I(actions).
    type: str
  actions:
    description: The actions to simulate, for example C(rds:PromoteReadReplica). None, nothing is read.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - lomashwood.multiregion.attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Does eu-west-2 offer the production classes, and may this role fail over?
  lomashwood.multiregion.failover_capabilities:
    region: eu-west-2
    engine: postgres
    db_instance_classes: [db.r6g.large]
    policy_source_arn: "{{ caller.arn }}"
    actions: [rds:PromoteReadReplica, route53:ChangeResourceRecordSets]
  register: capabilities
"""

RETURN = r"""
classes:
  description:
    - C(checked) (whether the region answered with any option for I(engine)), C(offered) and
      C(not_offered) (classes), and C(note) (why it was not checked).
  returned: always
  type: dict
  sample: {"checked": true, "offered": ["db.r6g.large"], "not_offered": [], "note": ""}
permissions:
  description:
    - C(checked), C(allowed) and C(denied) (actions, each denied one with its decision), and C(note)
      (why it was not checked).
  returned: always
  type: dict
  sample: {"checked": true, "allowed": ["rds:PromoteReadReplica"], "denied": [], "note": ""}
api_calls:
  description: API operations made, by name.
  returned: always
  type: dict
"""

try:
    from botocore.parsers import ResponseParserError
except ImportError:
    ResponseParserError = ValueError  # AnsibleAWSModule reports the missing botocore

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.lomashwood.multiregion.plugins.module_utils import aws
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import ApiCallCounter

# Errors that say "this endpoint cannot answer that", not "no".
UNSUPPORTED = ("NotImplemented", "InvalidAction", "UnknownOperationException", "UnsupportedOperation",
               "InternalFailure", "InternalError")


def _code(exc):
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "") if hasattr(exc, "response") else ""


def orderable_classes(rds, engine, classes):
    """Which classes RDS offers for engine; not checked when it lists no option at all for engine."""
    offered, not_offered = [], []
    for name in classes:
        found = rds.describe_orderable_db_instance_options(aws_retry=True, Engine=engine, DBInstanceClass=name,
                                                           MaxRecords=20).get("OrderableDBInstanceOptions", [])
        (offered if found else not_offered).append(name)
    if not_offered:
        any_option = rds.describe_orderable_db_instance_options(aws_retry=True, Engine=engine, MaxRecords=20)
        if not any_option.get("OrderableDBInstanceOptions"):
            return dict(checked=False, offered=[], not_offered=[],
                        note="the endpoint lists no orderable option at all for engine %s (an emulator: moto lists "
                             "only aurora-postgresql and neptune), so the classes cannot be checked there" % engine)
    return dict(checked=True, offered=offered, not_offered=not_offered, note="")


def simulate(iam, arn, actions):
    """Which actions the principal may call, by iam:SimulatePrincipalPolicy."""
    results = aws.paginate(iam, "simulate_principal_policy", PolicySourceArn=arn,
                           ActionNames=actions)["EvaluationResults"]
    decision = {r["EvalActionName"]: r["EvalDecision"] for r in results}
    allowed = sorted(a for a in actions if decision.get(a) == "allowed")
    denied = sorted("%s (%s)" % (a, decision.get(a, "not evaluated")) for a in actions if decision.get(a) != "allowed")
    return dict(checked=True, allowed=allowed, denied=denied, note="")


def not_checked(exc, what):
    """Why the endpoint cannot answer (it does not implement the call), or None for a real failure."""
    code = _code(exc)
    # An answer that is not AWS's at all (moto's HTML 500 page for a call it lacks) is no answer either.
    if (code in UNSUPPORTED or isinstance(exc, (NotImplementedError, ResponseParserError))
            or "not yet implemented" in str(exc).lower()):
        return "the endpoint does not implement %s (%s)" % (what, code or type(exc).__name__)
    return None


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(engine=dict(type="str", default="postgres"),
                           db_instance_classes=dict(type="list", elements="str", default=[]),
                           policy_source_arn=dict(type="str"),
                           actions=dict(type="list", elements="str", default=[])),
        supports_check_mode=True,
    )
    p = module.params
    if p["actions"] and not p["policy_source_arn"]:
        module.fail_json(msg="policy_source_arn is required with actions")
    counter = ApiCallCounter()
    result = dict(changed=False,
                  classes=dict(checked=False, offered=[], not_offered=[], note="no classes asked for"),
                  permissions=dict(checked=False, allowed=[], denied=[], note="no actions asked for"))
    if p["db_instance_classes"]:
        rds = aws.client(module, "rds", counter)
        try:
            result["classes"] = orderable_classes(rds, p["engine"], p["db_instance_classes"])
        except Exception as exc:  # pylint: disable=broad-except
            note = not_checked(exc, "DescribeOrderableDBInstanceOptions")
            if note is None:
                module.fail_json_aws(exc, msg="Failed to read the orderable DB instance options", api_calls=counter.as_dict())
            result["classes"] = dict(checked=False, offered=[], not_offered=[], note=note)
    if p["actions"]:
        iam = aws.client(module, "iam", counter)
        try:
            result["permissions"] = simulate(iam, p["policy_source_arn"], p["actions"])
        except Exception as exc:  # pylint: disable=broad-except
            note = not_checked(exc, "iam:SimulatePrincipalPolicy")
            if note is None:
                module.fail_json_aws(exc, msg="Failed to simulate the principal's policy", api_calls=counter.as_dict())
            result["permissions"] = dict(checked=False, allowed=[], denied=[], note=note)
    module.exit_json(api_calls=counter.as_dict(), **result)


if __name__ == "__main__":
    main()
