#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: region_probe
short_description: Ask a region that may be down, briefly, whether its databases answer
version_added: 0.1.0
description:
  - One C(DescribeDBInstances) in I(region) with a short timeout, for a region that may be in an outage
    (the primary, during a failover's safety check). Never waits longer than I(timeout) seconds in all,
    and never fails because the region does not answer - that is the answer.
  - A throttled or failed answer (throttling, 5xx, a lost connection) is asked again, at most 3 questions
    in all, 0.2 s then 0.4 s apart, each waiting only what is left of I(timeout); a timed-out question is
    not asked again. So one transient failure of a healthy region does not read as an outage.
  - With I(caller_identity), it also asks STS who the credentials are (C(GetCallerIdentity), beside the
    probe, with the usual retries), so a run that probes its standby region checks its credentials in
    the same module run instead of a separate C(amazon.aws.aws_caller_info). Credentials that STS refuses
    fail the module, unless the region did not answer either (that answer is then the news, and STS is
    not waited for).
  - Read-only; reports C(changed=false), in check mode too.
author:
  - Lomash Wood platform team (@lomashwood)
options:
  db_instance_identifiers:
    description: The instances expected there (for example the primaries). Without them, any answer counts.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds for the connection and for the answer.
    type: float
    default: 5
  caller_identity:
    description: Also return who the credentials are (C(caller)), from STS in I(region).
    type: bool
    default: false
extends_documentation_fragment:
  - lomashwood.multiregion.attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Do the primary region's databases answer?
  lomashwood.multiregion.region_probe:
    region: eu-west-1
    db_instance_identifiers: [lomash-auth-prod, lomash-orders-prod]
    timeout: 5
  register: primary_probe

- name: Does the standby answer, and who are we there?
  lomashwood.multiregion.region_probe:
    region: eu-west-2
    db_instance_identifiers: [lomash-auth-dr, lomash-orders-dr]
    caller_identity: true
  register: standby_probe  # standby_probe.caller.arn
"""

RETURN = r"""
answered:
  description: Whether the region's RDS API answered in time.
  returned: always
  type: bool
available:
  description: Whether it answered and every instance asked for is there and C(available).
  returned: always
  type: bool
databases:
  description: Each instance asked for, with its status (C(missing) when it is not there).
  returned: always
  type: dict
  sample: {"lomash-auth-prod": "available"}
endpoints:
  description:
    - Each instance asked for that is there and has an endpoint, with its address and port (an endpoint's name
      does not change when a read replica is promoted, so a failover can point its Secrets at it at once).
  returned: always
  type: dict
  sample: {"lomash-auth-dr": {"address": "lomash-auth-dr.abc.eu-west-2.rds.amazonaws.com", "port": 5432}}
error:
  description: Why the region did not answer.
  returned: always
  type: str
caller:
  description:
    - Who the credentials are (STS C(GetCallerIdentity)), with I(caller_identity).
    - C(null) when not asked, or when the region did not answer and STS had not either.
  returned: always
  type: dict
  contains:
    account:
      description: The AWS account id.
      type: str
    arn:
      description: The caller's ARN.
      type: str
    user_id:
      description: The caller's unique id.
      type: str
  sample: {"account": "123456789012", "arn": "arn:aws:sts::123456789012:assumed-role/lomash-dr/awx", "user_id": "AROA...:awx"}
seconds:
  description: How long the probe took.
  returned: always
  type: float
api_calls:
  description: API operations made, by name.
  returned: always
  type: dict
retries:
  description: Questions asked again after a transient failure, by operation.
  returned: always
  type: dict
  sample: {"DescribeDBInstances": 1}
"""

import threading
import time

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

try:
    from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
except ImportError:
    pass  # AnsibleAWSModule reports the missing botocore

from ansible_collections.lomashwood.multiregion.plugins.module_utils import aws
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import ApiCallCounter

# A failed question is asked again, within the timeout, at most this many times in all.
ATTEMPTS = 3
BACKOFF = 0.2  # seconds, doubling


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(db_instance_identifiers=dict(type="list", elements="str", default=[]),
                           timeout=dict(type="float", default=5),
                           caller_identity=dict(type="bool", default=False)),
        supports_check_mode=True,
    )
    if module.params["timeout"] <= 0:
        module.fail_json(msg="timeout must be more than 0, got %s" % module.params["timeout"])
    counter = ApiCallCounter()
    names = module.params["db_instance_identifiers"]
    started = time.monotonic()
    deadline = started + module.params["timeout"]
    query = dict(Filters=[dict(Name="db-instance-id", Values=names)]) if names else dict(MaxRecords=20)
    identity = _ask_identity(module, counter) if module.params["caller_identity"] else None
    answered, error, databases, endpoints = False, "", {}, {}
    for attempt in range(ATTEMPTS):
        try:
            # Each attempt may wait only what is left of the timeout: nothing waits on the region longer.
            rds = aws.client(module, "rds", counter, timeout=max(0.1, deadline - time.monotonic()))
            found = rds.describe_db_instances(aws_retry=True, **query)["DBInstances"]
            answered, error = True, ""
            status = {d["DBInstanceIdentifier"]: d["DBInstanceStatus"] for d in found}
            databases = {n: status.get(n, "missing") for n in names}
            # `found` holds only the instances asked for (the query's filter), or any when none was named.
            endpoints = {d["DBInstanceIdentifier"]: dict(address=d["Endpoint"]["Address"], port=d["Endpoint"]["Port"])
                         for d in found if d.get("Endpoint", {}).get("Address")}
            break
        except Exception as exc:  # pylint: disable=broad-except
            # Any failure (503, timeout, no route, throttling) means the same here: it did not answer,
            # unless a second question, within the timeout, is answered (a throttled or failed call is
            # asked again: one transient failure of a healthy region must not read as an outage).
            error = str(exc)
            pause = BACKOFF * 2 ** attempt
            if not _transient(exc) or attempt == ATTEMPTS - 1 or time.monotonic() + pause + 0.1 >= deadline:
                break
            counter.retried("DescribeDBInstances")
            time.sleep(pause)
    caller = None
    if identity is not None:
        # A region that did not answer is the answer: its STS (tried again for a minute) is not waited for.
        identity["thread"].join(None if answered else 0)
        caller = identity.get("caller")
        if caller is None and answered:
            module.fail_json(msg="Could not check the credentials in %s (sts:GetCallerIdentity): %s"
                                 % (module.params["region"], identity.get("error")),
                             api_calls=counter.as_dict(), retries=counter.retries())
    module.exit_json(changed=False, answered=answered, error=error, databases=databases, endpoints=endpoints, caller=caller,
                     available=answered and all(s == "available" for s in databases.values()),
                     seconds=round(time.monotonic() - started, 2), api_calls=counter.as_dict(), retries=counter.retries())


def _ask_identity(module, counter):
    """STS GetCallerIdentity in a thread, beside the probe: {"thread", then "caller" or "error"}."""
    found = {}

    def ask():
        try:
            answer = aws.client(module, "sts", counter).get_caller_identity(aws_retry=True)
            found["caller"] = dict(account=answer["Account"], arn=answer["Arn"], user_id=answer["UserId"])
        except Exception as exc:  # pylint: disable=broad-except
            found["error"] = str(exc)

    found["thread"] = threading.Thread(target=ask, daemon=True)
    found["thread"].start()
    return found


def _transient(exc):
    """A failure worth asking again within the timeout: throttling, 5xx, a lost connection; not a timeout
    (the time is spent) nor a refusal (bad credentials, an unknown region)."""
    if isinstance(exc, ReadTimeoutError):
        return False
    if isinstance(exc, (ConnectionClosedError, EndpointConnectionError)):
        return True
    return aws.is_error_code(exc, *sorted(ApiCallCounter.TRANSIENT_CODES))


if __name__ == "__main__":
    main()
