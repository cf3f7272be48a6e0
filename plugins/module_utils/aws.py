# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What every AWS module of this collection shares: one retry policy, counted clients, pagination.

Built on amazon.aws: clients come from AnsibleAWSModule (its connection options, endpoint_url
included), retries are AWSRetry's jittered backoff (throttling and 5xx), and pagination is
botocore's paginators with the whole listing retried as one call, as amazon.aws does it.
"""

from __future__ import annotations

try:
    from botocore.config import Config
except ImportError:
    Config = None  # AnsibleAWSModule reports the missing botocore

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# Failover runs while AWS is slow and throttling: up to 8 tries, 1 s doubling to 20 s, jittered.
RETRY = AWSRetry.jittered_backoff(retries=8, delay=1, max_delay=20)


def _no_retry(func):
    return func


def client(module, service, counter, max_concurrency=10, region=None, retry=RETRY, timeout=None):
    """A boto3 client with a retry policy (calls opt in with aws_retry=True), counted by operation.

    region: another region than the module's (e.g. the primary's ALB); retry: a service's own
    policy (Route 53 adds PriorRequestNotComplete). The connection pool is as big as the
    concurrency, so concurrent calls do not queue for it.
    timeout: for a region that may be down (the primary, during an outage): one attempt, no
    retry, connect and read timeouts of that many seconds, so nothing waits on it for longer.
    """
    extra = dict(region=region) if region else {}
    settings = dict(max_pool_connections=max(10, max_concurrency))
    if timeout:
        settings.update(connect_timeout=timeout, read_timeout=timeout, retries=dict(total_max_attempts=1))
        retry = _no_retry
    return counter.attach(module.client(service, retry_decorator=retry, config=Config(**settings), **extra))


def is_error_code(exc, *codes):
    """Whether exc is a botocore ClientError with one of these error codes."""
    return isinstance(exc, is_boto3_error_code(list(codes), exc))


@RETRY
def paginate(aws_client, operation, **kwargs):
    """Every page of operation, merged by botocore's paginator (build_full_result), with retries.

    A failed page retries the whole listing (reads only, so a repeat is harmless).
    """
    return aws_client.get_paginator(operation).paginate(**kwargs).build_full_result()
