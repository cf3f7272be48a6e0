"""Real botocore clients answered in-process, for unit tests of pure logic (no network, no emulator).

The client's own machinery runs (parameter validation, paginators, retries' wrappers); only the
HTTP exchange is replaced, the way botocore's Stubber does it, by a Python function per operation.
"""

from __future__ import annotations

import boto3
from botocore import xform_name
from botocore.awsrequest import AWSResponse

from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.lomashwood.multiregion.plugins.module_utils.aws import RETRY


def fake_client(service, **operations):
    """operations: {python operation name: function(**api_params) -> response dict}; calls recorded in .calls.

    Wrapped with the collection's retries, as AnsibleAWSModule.client() returns it (aws_retry=True works).
    """
    client = boto3.client(service, region_name="eu-west-2", aws_access_key_id="testing",
                          aws_secret_access_key="testing", endpoint_url="https://127.0.0.1:9")
    client.calls = []

    def keep_params(params, context, **_kwargs):
        context["fake_params"] = dict(params)

    def answer(model, context, **_kwargs):
        name = xform_name(model.name)
        params = context["fake_params"]
        client.calls.append((name, params))
        return AWSResponse(None, 200, {}, None), operations[name](**params)

    client.meta.events.register("before-parameter-build.%s.*" % client.meta.service_model.service_id.hyphenize(), keep_params)
    client.meta.events.register("before-call.*.*", answer)
    return RetryingBotoClientWrapper(client, RETRY)
