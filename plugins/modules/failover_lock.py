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
    failover or failback - the I(holder) (the run), its I(owner), its I(reason), when it started and
    when it expires (I(ttl_seconds) after it was taken). Taking it is atomic (create only if
    absent), so of two runs started at once exactly one wins; the other is refused and told who
    holds the lock.
  - The same I(holder) asking again is a resumed run and keeps the lock (no change); if its own
    lock has expired meanwhile, it is renewed.
  - Another holder's live (unexpired) lock is always refused, whatever the options, naming its
    holder, owner, reason, start and expiry. Only the holder releases its lock.
  - A stale (expired) lock of another holder is broken only on purpose, with I(break_stale=true);
    the result's RV(broken) then names the old holder for the report. Breaking is atomic too - a
    create-only token parameter named after the stale record lets one run break it, and the
    record is read again before it is replaced.
  - Lives in the standby region on purpose, so it works while the primary region is down.
  - A write whose answer is lost (served, then the connection lost; the SDK tries again) is not taken for
    another run's. Each record and break token carries the id of the write that made it, so a retried
    create that finds its own record there has the lock; a retried delete that finds nothing has released it.
  - Changed since 0.1.0 - I(force) no longer takes over or releases another holder's lock; it is
    accepted and ignored, with a warning (use I(break_stale) for a dead run's expired lock).
    I(purpose) is now I(reason) (the old name still works). The action C(takeover) is gone; the
    record's C(acquired_at) is now C(started). A record written by 0.1.0 (no expiry) expires 4 hours
    after it was taken; one without a readable start time counts as stale.
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
  owner:
    description:
      - The person or identity running it (for example the caller's ARN), shown to anyone refused.
      - Defaults to the local user name on the controller.
    type: str
  reason:
    description: Free text kept with the lock, shown to anyone who is refused.
    type: str
    aliases: [purpose]
  ttl_seconds:
    description:
      - How long the lock stays live after it is taken (or renewed). After that it is stale and
        another run may break it with I(break_stale).
    type: int
    default: 14400
  break_stale:
    description:
      - Take (C(state=present)) or clear (C(state=absent)) another holder's lock if, and only if, it
        has expired. A live lock is refused whatever this says.
    type: bool
    default: false
  force:
    description:
      - Deprecated, ignored (with a warning when true). It used to take over or release another
        holder's lock; a live lock is now never taken over, and a stale one needs I(break_stale).
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
    owner: "{{ caller.arn }}"
    reason: Region outage in eu-west-1
    ttl_seconds: 14400

- name: Take it even though a dead run left an expired lock (on purpose)
  lomashwood.multiregion.failover_lock:
    region: eu-west-2
    holder: "failover:{{ incident_id }}"
    reason: Region outage in eu-west-1
    break_stale: true
  register: lock

- name: Show whose lock was broken
  ansible.builtin.debug:
    msg: "Broke the stale lock of {{ lock.broken.holder }} ({{ lock.broken.owner }}), expired {{ lock.broken.expires_at }}"
  when: lock.broken

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
  sample: {"holder": "failover:INC-2041", "owner": "arn:aws:iam::123456789012:user/alice", "reason": "eu-west-1 outage",
           "started": "2026-11-26T04:10:00Z", "expires_at": "2026-11-26T08:10:00Z", "ttl_seconds": 14400,
           "write_id": "5f0c6a1e9b2d4c7e8a3f1b6d0e9c2a47"}
previous:
  description: The lock record before the run, if there was one.
  returned: always
  type: dict
broken:
  description: The old holder whose stale lock this run broke (C(action=break_stale)); empty otherwise.
  returned: always
  type: dict
  sample: {"holder": "failover:INC-2040", "owner": "bob", "reason": "drill", "started": "2026-11-25T20:00:00Z",
           "expires_at": "2026-11-26T00:00:00Z", "expired": true, "expired_seconds_ago": 15000}
action:
  description: C(acquire), C(renew) (the holder's own expired lock), C(break_stale), C(release) or C(none).
  returned: always
  type: str
resumed:
  description: Whether this run already held the lock (the same I(holder), a resumed run).
  returned: always
  type: bool
api_calls:
  description: SSM calls made, by operation.
  returned: always
  type: dict
  sample: {"GetParameter": 1, "PutParameter": 1}
retries:
  description: SSM calls that failed transiently (throttling, 5xx, a lost connection) and were tried again, by operation.
  returned: always
  type: dict
  sample: {"PutParameter": 1}
"""

import getpass
import hashlib
import json
import uuid
from datetime import datetime, timezone

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.lomashwood.multiregion.plugins.module_utils import aws
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import ApiCallCounter, BatchError
from ansible_collections.lomashwood.multiregion.plugins.module_utils.lock import (
    broken_record, decide, describe, is_own_write, new_record, parse_record)


def read_lock(ssm, name):
    """(raw value, record), or (None, None) when there is no lock."""
    try:
        value = ssm.get_parameter(aws_retry=True, Name=name)["Parameter"]["Value"]
    except is_boto3_error_code("ParameterNotFound"):
        return None, None
    return value, parse_record(value)


def delete(ssm, name):
    """Delete the parameter; one already gone counts as deleted (a retried delete whose first answer was lost
    finds it gone; the caller read it as its own, or as the token it created, a moment before)."""
    try:
        ssm.delete_parameter(aws_retry=True, Name=name)
    except is_boto3_error_code("ParameterNotFound"):
        pass


def replace_stale(ssm, name, stale_value, value, write_id):
    """Replace the stale record stale_value by value, or raise BatchError if another run got there first.

    SSM has no compare-and-set, so the break is made atomic by a create-only token named after the
    stale record: of the runs breaking the same record, one creates it. The token holds this write's
    id, so a create retried after its answer was lost knows the token for its own. The winner reads the
    lock again (a slow run may find it already replaced), writes, and deletes the token.
    """
    token = "%s-breaking-%s" % (name, hashlib.sha256(stale_value.encode()).hexdigest()[:16])
    mark = "breaking:%s" % write_id
    try:
        ssm.put_parameter(aws_retry=True, Name=token, Value=mark, Type="String", Overwrite=False)
    except is_boto3_error_code("ParameterAlreadyExists"):
        try:
            theirs = ssm.get_parameter(aws_retry=True, Name=token)["Parameter"]["Value"]
        except is_boto3_error_code("ParameterNotFound"):
            theirs = None  # the other run has finished breaking it meanwhile
        if theirs != mark:
            raise BatchError(["another run is breaking the same stale failover lock; not taking it"])
    try:
        now_value, now_record = read_lock(ssm, name)
        if now_value != stale_value:
            raise BatchError(["the failover lock changed while it was being broken; now held by %r"
                              % (now_record or {}).get("holder")])
        if value is None:
            delete(ssm, name)
        else:
            ssm.put_parameter(aws_retry=True, Name=name, Value=value, Type="String", Overwrite=True)
    finally:
        delete(ssm, token)


def run(module, ssm, now):
    p = module.params
    current_value, current = read_lock(ssm, p["name"])
    action = decide(p["state"], current, p["holder"], now, p["break_stale"])
    write_id = uuid.uuid4().hex
    if action == "renew":  # the same run: it keeps its start time
        record = new_record(p["holder"], current.get("owner") or p["owner"], current.get("reason") or p["reason"],
                            p["ttl_seconds"], now, started=current.get("started"), write_id=write_id)
    else:
        record = new_record(p["holder"], p["owner"], p["reason"], p["ttl_seconds"], now, write_id=write_id)
    after = {} if p["state"] == "absent" else (current if action is None else record)
    broken = broken_record(current, now) if action == "break_stale" else {}
    resumed = p["state"] == "present" and current is not None and action in (None, "renew")
    result = dict(changed=action is not None, action=action or "none", previous=current or {}, lock=after,
                  broken=broken, resumed=resumed, diff=dict(before=current or {}, after=after))
    if module.check_mode or action is None:
        return result
    if action == "release":
        delete(ssm, p["name"])
    elif action == "acquire":
        try:
            # Overwrite=False is the atomic part: of two runs only one creates the parameter.
            ssm.put_parameter(aws_retry=True, Name=p["name"], Value=json.dumps(record), Type="String", Overwrite=False)
        except is_boto3_error_code("ParameterAlreadyExists"):
            _value, winner = read_lock(ssm, p["name"])
            # Our own create, served but its answer lost (the SDK tried again): the lock is ours.
            if not is_own_write(winner, record):
                # Another run created it between our read and our write: named as any holder is.
                raise BatchError(["lost the race for the failover lock: it is held by %s; refusing to start a second "
                                  "run" % (describe(winner, now) if winner else "another run")])
    else:  # renew, break_stale: replace a stale record, once
        replace_stale(ssm, p["name"], current_value, None if p["state"] == "absent" else json.dumps(record), write_id)
    return result


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", default="/lomashwood/multiregion/failover-lock"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            holder=dict(type="str", required=True),
            owner=dict(type="str"),
            reason=dict(type="str", aliases=["purpose"]),
            ttl_seconds=dict(type="int", default=14400),
            break_stale=dict(type="bool", default=False),
            force=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not p["holder"].strip():
        module.fail_json(msg="holder must not be empty")
    if p["ttl_seconds"] <= 0:
        module.fail_json(msg="ttl_seconds must be more than 0, got %s" % p["ttl_seconds"])
    if p["force"]:
        module.warn("failover_lock: force is ignored now; a live lock is never taken over, "
                    "and a stale one is broken only with break_stale: true")
    if p["owner"] is None:
        p["owner"] = getpass.getuser()
    counter = ApiCallCounter()
    ssm = aws.client(module, "ssm", counter)
    try:
        result = run(module, ssm, datetime.now(timezone.utc))
    except BatchError as exc:
        module.fail_json(msg="Refusing: %s" % exc, api_calls=counter.as_dict(), retries=counter.retries())
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json_aws(exc, msg="Failed to manage the failover lock %s" % p["name"], api_calls=counter.as_dict(),
                             retries=counter.retries())
    module.exit_json(api_calls=counter.as_dict(), retries=counter.retries(), **result)


if __name__ == "__main__":
    main()
