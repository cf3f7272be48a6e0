"""Recognise an AWS API call on the wire, and answer one with an AWS-shaped error.

The realism layer sits in front of moto as WSGI middleware, so it sees raw HTTP.
To count calls, inject faults and simulate region outages it needs, for every
request: the service, the region and the operation name. All three are on the
wire in a way that does not depend on moto:

* region and service: the SigV4 credential scope
  (``Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request``,
  or ``X-Amz-Credential`` for presigned URLs);
* operation: ``Action`` (query protocols: RDS, ELBv2, STS, IAM, EC2),
  ``X-Amz-Target`` (JSON protocols), ``/service/<Svc>/operation/<Op>`` (Smithy
  RPCv2 CBOR, which boto3 now uses for CloudWatch), or for REST protocols
  (S3, Route 53) the method + path matched against botocore's own service model.
"""

from __future__ import annotations

import functools
import io
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

import botocore.session

# SigV4 signing names that differ from the boto3 client name we report.
_SIGNING_TO_CLIENT = {
    "monitoring": "cloudwatch",
    "email": "ses",
    "execute-api": "apigateway",
    "states": "stepfunctions",
}

GLOBAL_SERVICES = {"route53", "iam", "cloudfront", "organizations", "globalaccelerator", "shield"}

_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_RPCV2_PATH_RE = re.compile(r"^/service/([^/]+)/operation/([^/]+)$")


@dataclass
class AwsCall:
    service: str  # boto3 client name, e.g. "rds", "cloudwatch", "elbv2", "s3"
    region: str  # from the signature; "unknown" for unsigned requests
    operation: str  # e.g. "DescribeDBInstances"
    protocol: str  # "query" | "ec2" | "json" | "cbor" | "rest-xml" | "rest-json"

    @property
    def name(self) -> str:
        return f"{self.service}:{self.operation}"


def _read_form_body(environ: dict[str, Any]) -> str:
    """Read a form-encoded body and put it back, so moto can read it again."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return ""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return ""
    if not length:
        return ""
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body.decode("utf-8", "replace")


def identify(environ: dict[str, Any]) -> AwsCall:
    headers_auth = environ.get("HTTP_AUTHORIZATION", "")
    query = environ.get("QUERY_STRING", "")
    match = _CREDENTIAL_RE.search(headers_auth) or _CREDENTIAL_RE.search(unquote(query))
    region, signing = (match.group(3), match.group(4)) if match else ("unknown", "unknown")
    service = _SIGNING_TO_CLIENT.get(signing, signing)
    if service in GLOBAL_SERVICES:
        # Signed with whatever region the client was given (with a custom endpoint
        # botocore does not pin us-east-1), but not a regional API: an eu-west-1
        # outage must not take Route 53 down with it.
        region = "global"
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "/")

    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return AwsCall(service, region, target.rsplit(".", 1)[-1], "json")
    rpc = _RPCV2_PATH_RE.match(path)
    if rpc and method == "POST":
        return AwsCall(service, region, rpc.group(2), "cbor")

    params = parse_qs(query, keep_blank_values=True)  # S3 sub-resources: "?versioning"
    params.update(parse_qs(_read_form_body(environ), keep_blank_values=True))
    if "Action" in params:
        if signing == "elasticloadbalancing":
            service = "elbv2" if params.get("Version") == ["2015-12-01"] else "elb"
        return AwsCall(service, region, params["Action"][0], "ec2" if service == "ec2" else "query")

    protocol, op = _rest_operation(service, method, path, params, environ)
    return AwsCall(service, region, op, protocol)


# --- REST protocols: match the request against botocore's requestUri templates ---


@functools.lru_cache(maxsize=None)
def _rest_routes(service: str) -> tuple[str, list[tuple]]:
    try:
        model = botocore.session.get_session().get_service_model(service)
    except Exception:  # unknown service: only a coarse name is possible
        return "rest", []
    routes = []
    for name in model.operation_names:
        op = model.operation_model(name)
        uri_path, _, uri_query = op.http["requestUri"].partition("?")
        segments = [s for s in uri_path.split("/") if s]
        literal_query = dict(
            (kv.split("=", 1) + [None])[:2] for kv in uri_query.split("&") if kv
        )
        required_headers, required_query = [], []
        shape = op.input_shape
        if shape is not None:
            for member in shape.required_members:
                ser = shape.members[member].serialization
                if ser.get("location") == "header":
                    required_headers.append(ser["name"])
                elif ser.get("location") == "querystring":
                    required_query.append(ser["name"])
        routes.append(
            (op.http["method"], segments, literal_query, required_headers, required_query, name)
        )
    return model.protocol, routes


def _path_matches(template: list[str], actual: list[str]) -> int | None:
    """Return the number of literal segments matched, or None if no match."""
    literals = 0
    for i, seg in enumerate(template):
        if seg.startswith("{") and seg.endswith("+}"):  # greedy label: rest of the path
            return literals if len(actual) > i else None
        if i >= len(actual):
            return None
        if seg.startswith("{"):
            continue
        if seg != actual[i]:
            return None
        literals += 1
    return literals if len(actual) == len(template) else None


def _rest_operation(service, method, path, params, environ) -> tuple[str, str]:
    protocol, routes = _rest_routes(service)
    actual = [s for s in path.split("/") if s]
    best, best_score = None, -1
    for r_method, segments, literal_query, req_headers, req_query, name in routes:
        if r_method != method:
            continue
        literals = _path_matches(segments, actual)
        if literals is None:
            continue
        if any(k not in params or (v is not None and params[k] != [v]) for k, v in literal_query.items()):
            continue
        if any("HTTP_" + h.upper().replace("-", "_") not in environ for h in req_headers):
            continue
        if any(q not in params for q in req_query):
            continue
        score = literals * 10 + len(literal_query) * 10 + len(req_headers) + len(req_query)
        if score > best_score:
            best, best_score = name, score
    return protocol, best or method


# --- AWS-shaped error responses, in the protocol the client speaks ---


def _cbor_text(s: str) -> bytes:
    data = s.encode()
    n = len(data)
    if n < 24:
        head = bytes([0x60 | n])
    elif n < 256:
        head = bytes([0x78, n])
    else:
        head = bytes([0x79]) + n.to_bytes(2, "big")
    return head + data


def _cbor_map(d: dict[str, str]) -> bytes:
    return bytes([0xA0 | len(d)]) + b"".join(_cbor_text(k) + _cbor_text(v) for k, v in d.items())


def _xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def error_response(call: AwsCall, status: int, code: str, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """Build (status line, headers, body) for an AWS error the client's parser understands."""
    request_id = str(uuid.uuid4())
    kind = "Sender" if status < 500 else "Receiver"
    msg = _xml_escape(message)
    if call.protocol == "json":
        ctype = "application/x-amz-json-1.1"
        body = json.dumps({"__type": code, "message": message}).encode()
    elif call.protocol == "cbor":
        ctype = "application/cbor"
        body = _cbor_map({"__type": code, "message": message})
    elif call.protocol == "ec2":
        ctype = "text/xml"
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{msg}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        ).encode()
    elif call.service == "s3":
        ctype = "application/xml"
        body = (
            f"<Error><Code>{code}</Code><Message>{msg}</Message><RequestId>{request_id}</RequestId></Error>"
        ).encode()
    else:  # query protocols and Route 53 share this shape
        ctype = "text/xml"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{msg}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
    headers = [
        ("Content-Type", ctype),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", request_id),
    ]
    if call.protocol == "cbor":
        headers.append(("Smithy-Protocol", "rpc-v2-cbor"))
    reason = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error",
              503: "Service Unavailable", 504: "Gateway Timeout"}.get(status, "Error")
    return f"{status} {reason}", headers, body
