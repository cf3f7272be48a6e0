#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: failover_lock
short_description: Take or release the lock that keeps a second failover from starting
version_added: 0.1.0
description:
  - Keeps one record, an SSM parameter in the standby region, that names who is running a
    failover or failback. Taking it is atomic (create only if absent), so of two runs started at
    once exactly one wins; the other is refused and told who holds the lock.
  - The same I(holder) asking again is a resumed run and keeps the lock (no change).
  - Lives in the standby region on purpose, so it works while the primary region is down.
author:
  - Lomash Wood platform team (@lomashwood)
options:
  name:
    description: The SSM parameter that holds the lock.
    type: str
    default: /lomashwood/multiregion/failover-lock
  state:
    description: C(present) takes the lock, C(absent) releases it.
    type: str
    choices: [present, absent]
    default: present
  holder:
    description:
      - Who holds the lock, for example C(failover:INC-2041). A rerun with the same holder resumes.
    type: str
    required: true
  purpose:
    description: Free text kept with the lock, shown to anyone who is refused.
    type: str
  force:
    description: Take or release the lock even though another holder has it (a run that died).
    type: bool
    default: false
extends_documentation_fragment:
  - lomashwood.multiregion.attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Take the failover lock
  lomashwood.multiregion.failover_lock:
    region: eu-west-2
    holder: "failover:{{ incident_id }}"
    purpose: Region outage in eu-west-1

- name: Release it when the failover is done
  lomashwood.multiregion.failover_lock:
    region: eu-west-2
    holder: "failover:{{ incident_id }}"
    state: absent
"""

RETURN = r"""
lock:
  description: The lock record after the run (empty when released).
  returned: always
  type: dict
  sample: {"holder": "failover:INC-2041", "acquired_at": "2026-11-26T04:10:00Z", "purpose": "eu-west-1 outage"}
previous:
  description: The lock record before the run, if there was one.
  returned: always
  type: dict
action:
  description: C(acquire), C(takeover), C(release) or C(none).
  returned: always
  type: str
"""

import json
from datetime import datetime, timezone

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.lomashwood.multiregion.plugins.module_utils.aws import RETRY
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import BatchError
from ansible_collections.lomashwood.multiregion.plugins.module_utils.lock import decide, parse_record


def read_lock(ssm, name):
    try:
        return parse_record(ssm.get_parameter(aws_retry=True, Name=name)["Parameter"]["Value"])
    except is_boto3_error_code("ParameterNotFound"):
        return None


def run(module, ssm):
    p = module.params
    current = read_lock(ssm, p["name"])
    action = decide(p["state"], current, p["holder"], p["force"])
    record = {"holder": p["holder"], "purpose": p["purpose"] or "",
              "acquired_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    after = {} if p["state"] == "absent" else (current if action is None else record)
    result = dict(changed=action is not None, action=action or "none", previous=current or {}, lock=after,
                  diff=dict(before=current or {}, after=after))
    if module.check_mode or action is None:
        return result
    if action == "release":
        ssm.delete_parameter(aws_retry=True, Name=p["name"])
        return result
    try:
        # Overwrite=False is the atomic part: of two runs only one creates the parameter.
        ssm.put_parameter(aws_retry=True, Name=p["name"], Value=json.dumps(record), Type="String",
                          Overwrite=action == "takeover")
    except is_boto3_error_code("ParameterAlreadyExists"):
        winner = read_lock(ssm, p["name"]) or {}
        raise BatchError(["lost the race for the failover lock to %r" % winner.get("holder")])
    return result


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", default="/lomashwood/multiregion/failover-lock"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            holder=dict(type="str", required=True),
            purpose=dict(type="str"),
            force=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    if not module.params["holder"].strip():
        module.fail_json(msg="holder must not be empty")
    ssm = module.client("ssm", retry_decorator=RETRY)
    try:
        result = run(module, ssm)
    except BatchError as exc:
        module.fail_json(msg="Refusing: %s" % exc)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json_aws(exc, msg="Failed to manage the failover lock %s" % module.params["name"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
