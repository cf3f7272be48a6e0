# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What every AWS module of this collection shares: one retry policy, counted clients, pagination.

Built on amazon.aws: clients come from AnsibleAWSModule (its connection options, endpoint_url
included), retries are AWSRetry's jittered backoff (throttling and 5xx), and pagination is
botocore's paginators with the whole listing retried as one call, as amazon.aws does it.
"""

from __future__ import annotations

import datetime
import threading

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, NoRegionError
    from botocore.parsers import ResponseParserError
    from botocore.utils import parse_timestamp
except ImportError:
    Config = None  # AnsibleAWSModule reports the missing botocore
    ClientError = ConnectionClosedError = ResponseParserError = type(None)

from ansible_collections.amazon.aws.plugins.module_utils.botocore import (
    _get_user_agent_string, _merge_botocore_config, enable_placebo, get_aws_connection_info, is_boto3_error_code)
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry, RetryingBotoClientWrapper
from ansible_collections.lomashwood.multiregion.plugins.module_utils.xml_lists import ParserFactory


class TransientRetry(AWSRetry):
    """AWSRetry's throttling and 5xx codes, a connection closed without an answer (reset), and an answer
    botocore could not read (an HTML 500 page from a load balancer or the emulator, not the service's
    XML or JSON: botocore raises that as it parses, before its own retries, so it is never tried again).

    botocore tries a reset again itself, but only up to its own limit (3 attempts in its default
    'standard' mode, fewer when its retry quota runs low); a reset on the last attempt would end
    the call, and with it an object, a promotion or a poll, when a throttle on the same attempt
    is tried again here. A reset is quick to see, so trying it again costs only the backoff.
    Timeouts are left to botocore: they are slow, and a region that does not answer must not be
    waited for eight times over."""

    base_class = (ClientError, ConnectionClosedError, ResponseParserError)
    CLOSED = "ConnectionClosed"  # the code given to a closed connection, to be found below
    UNREADABLE = "UnreadableResponse"  # the code given to an answer botocore could not parse

    @staticmethod
    def status_code_from_exception(error):
        if isinstance(error, ConnectionClosedError):
            return TransientRetry.CLOSED
        if isinstance(error, ResponseParserError):
            return TransientRetry.UNREADABLE
        return AWSRetry.status_code_from_exception(error)

    @staticmethod
    def found(response_code, catch_extra_error_codes=None):
        return response_code in (TransientRetry.CLOSED, TransientRetry.UNREADABLE) or AWSRetry.found(
            response_code, catch_extra_error_codes)


# Failover runs while AWS is slow and throttling: up to 8 tries, 1 s doubling to 20 s, jittered.
RETRY = TransientRetry.jittered_backoff(retries=8, delay=1, max_delay=20)


def _no_retry(func):
    return func


# One boto3 session per profile for the whole module run. AnsibleAWSModule.client() makes a new
# session per client, and each re-reads the service's model: about 0.15 s of CPU per client, which a
# module with a client per region and service pays several times. Sessions are not thread-safe, so
# clients are made under a lock (the clients themselves are).
_SESSIONS = {}
_SESSION_LOCK = threading.Lock()


def _timestamp(value):
    """botocore's response timestamp parser, ISO 8601 with a zone read first by the standard library:
    botocore's own goes through dateutil, ~90 us a value, a third of the CPU of reading a 1,000-key
    S3 listing. Anything else (HTTP dates, epoch seconds) goes to botocore's."""
    if isinstance(value, str) and value[:4].isdigit():
        try:
            when = datetime.datetime.fromisoformat(value)
        except ValueError:
            when = None
        if when is not None and when.tzinfo is not None:
            return when
    return parse_timestamp(value)


def _session(profile):
    session = boto3.session.Session(profile_name=profile)
    parsers = ParserFactory()  # rest-xml lists (S3 listings, Route 53 record sets) read faster, to the same values
    parsers.set_parser_defaults(timestamp_parser=_timestamp)
    session._session.register_component("response_parser_factory", parsers)  # pylint: disable=protected-access
    enable_placebo(session)
    return session


def _connect(module, service, region, config):
    """AnsibleAWSModule.client()'s connection (its options, endpoint_url, user agent, placebo), on a shared session."""
    default_region, endpoint, params = get_aws_connection_info(module)
    params = dict(params)
    profile = params.pop("profile_name", None)
    merged = Config(user_agent=_get_user_agent_string())
    for name in ("config", "aws_config"):
        merged = _merge_botocore_config(merged, params.pop(name, None))
    merged = _merge_botocore_config(merged, config)
    try:
        with _SESSION_LOCK:
            session = _SESSIONS.get(profile)
            if session is None:
                session = _SESSIONS[profile] = _session(profile)
            return session.client(service, config=merged, region_name=region or default_region,
                                  endpoint_url=endpoint, **params)
    except NoRegionError:
        module.fail_json(msg="The %s module requires a region and none was found in configuration, "
                             "environment variables or module parameters" % module._name)  # pylint: disable=protected-access
    except (ValueError, BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Couldn't connect to AWS")


def client(module, service, counter, max_concurrency=10, region=None, retry=RETRY, timeout=None):
    """A boto3 client with a retry policy (calls opt in with aws_retry=True), counted by operation.

    region: another region than the module's (e.g. the primary's ALB); retry: a service's own
    policy (Route 53 adds PriorRequestNotComplete). The connection pool is as big as the
    concurrency, so concurrent calls do not queue for it.
    timeout: for a region that may be down (the primary, during an outage): one attempt, no
    retry, connect and read timeouts of that many seconds, so nothing waits on it for longer.
    """
    settings = dict(max_pool_connections=max(10, max_concurrency))
    if timeout:
        settings.update(connect_timeout=timeout, read_timeout=timeout, retries=dict(total_max_attempts=1))
        retry = _no_retry
    return counter.attach(RetryingBotoClientWrapper(_connect(module, service, region, Config(**settings)), retry),
                          count_retries=not timeout)


def is_error_code(exc, *codes):
    """Whether exc is a botocore ClientError with one of these error codes."""
    return isinstance(exc, is_boto3_error_code(list(codes), exc))


@RETRY
def paginate(aws_client, operation, **kwargs):
    """Every page of operation, merged by botocore's paginator (build_full_result), with retries.

    A failed page retries the whole listing (reads only, so a repeat is harmless).
    """
    return aws_client.get_paginator(operation).paginate(**kwargs).build_full_result()
