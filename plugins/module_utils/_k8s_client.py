# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private: a kubernetes client configured the way kubernetes.core configures its own.

The options are kubernetes.core's (AUTH_ARG_SPEC, documented by its k8s_auth_options fragment),
so one `module_defaults` group serves both collections, with the same precedence: a module
option, else its K8S_AUTH_* environment variable; explicit host + credentials, else the
kubeconfig (and context) when one is named, else in-cluster, else the default kubeconfig
(KUBECONFIG or ~/.kube/config). Unlike kubernetes.core this calls a few fixed endpoints (no
discovery calls, see KubeApi), never touches the client's global default configuration, checks the context
exists before connecting (so a typo is named, not reported as a connection error), and counts
every API call by operation.
"""

from __future__ import annotations

import json
import os

try:
    import urllib3
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.exceptions import ApiException
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:  # handled by the module (missing_required_lib)
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc
    ApiException = None

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import (
    AUTH_ARG_MAP,
    AUTH_ARG_SPEC,
    AUTH_PROXY_HEADERS_SPEC,
)

REQUEST_TIMEOUT = (10, 60)  # connect, read seconds, for every call
_NOT_SETTINGS = ("kubeconfig", "context", "persist_config")
_HEADERS = {"impersonate_user": "Impersonate-User", "impersonate_groups": "Impersonate-Group"}


class K8sConnectionError(Exception):
    """The connection options cannot work (bad kubeconfig, unknown context, ...); nothing was sent."""


def _env(name):
    return os.environ.get("K8S_AUTH_%s" % name.upper())


def _as_bool(value):
    return value.lower() not in ("0", "false", "no") if isinstance(value, str) else bool(value)


def auth_settings(params):
    """kubernetes.core's precedence: the module option, else K8S_AUTH_<OPTION> (or <CLIENT NAME>)."""
    auth = {}
    for true_name, arg_name in AUTH_ARG_MAP.items():
        value = params.get(arg_name)
        if value is None and arg_name == "proxy_headers":
            headers = {}
            for key, spec in AUTH_PROXY_HEADERS_SPEC.items():
                env_value = _env("proxy_headers_%s" % key)
                if env_value is not None:
                    headers[key] = _as_bool(env_value) if spec.get("type") == "bool" else env_value
            value = headers or None
        elif value is None:
            value = _env(arg_name) or _env(true_name)
            if value is not None and AUTH_ARG_SPEC[arg_name].get("type") == "bool":
                value = _as_bool(value)
        if value is not None:
            auth[true_name] = value
    return auth


def request_headers(params):
    headers = {}
    for arg_name, header in _HEADERS.items():
        value = params.get(arg_name)
        if value is None:
            value = _env(arg_name)
            if value is not None and arg_name == "impersonate_groups":
                value = [v for v in value.split(",") if v]
        if value:
            headers[header] = value
    return headers


def _kubeconfig_contexts(kubeconfig):
    """(context names, current context, how to name the kubeconfig in messages)."""
    if isinstance(kubeconfig, dict):
        names = [c.get("name") for c in kubeconfig.get("contexts") or []]
        return names, kubeconfig.get("current-context"), "the kubeconfig given as a mapping"
    where = "kubeconfig %s" % (kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config")
    try:
        contexts, current = k8s_config.list_kube_config_contexts(kubeconfig)
    except (k8s_config.ConfigException, OSError, ValueError, TypeError) as exc:
        raise K8sConnectionError("cannot read %s: %s" % (where, exc))
    return [c["name"] for c in contexts or []], (current or {}).get("name"), where


def _load_kubeconfig(configuration, auth):
    kubeconfig, context = auth.get("kubeconfig"), auth.get("context")
    if kubeconfig is not None and not isinstance(kubeconfig, (str, dict)):
        raise K8sConnectionError("kubeconfig must be a path or a mapping, got %r" % type(kubeconfig).__name__)
    names, current, where = _kubeconfig_contexts(kubeconfig)
    if context and context not in names:
        raise K8sConnectionError("context %r is not in %s (it has: %s)" % (context, where, ", ".join(names) or "none"))
    if not context and not current:
        raise K8sConnectionError("no context given and %s has no current-context" % where)
    kwargs = dict(context=context, client_configuration=configuration, persist_config=bool(auth.get("persist_config")))
    try:
        if isinstance(kubeconfig, dict):
            k8s_config.load_kube_config_from_dict(config_dict=kubeconfig, **kwargs)
        else:
            k8s_config.load_kube_config(config_file=kubeconfig, **kwargs)
    except (k8s_config.ConfigException, OSError, ValueError, TypeError) as exc:
        raise K8sConnectionError("cannot use context %r of %s: %s" % (context or current, where, exc))
    return context or current


def build_configuration(auth):
    """(kubernetes Configuration, a label of the target for messages, e.g. 'context X (https://...)')."""
    configuration = k8s_client.Configuration()
    if auth.get("host"):
        auth["host"] = auth["host"].rstrip("/")

    def given(*names):
        return all(auth.get(n) for n in names)

    context = None
    if given("api_key", "host") or given("username", "password", "host") or given("cert_file", "key_file", "host"):
        pass  # enough to authenticate without a kubeconfig
    elif given("kubeconfig") or given("context"):
        context = _load_kubeconfig(configuration, auth)
    else:
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
            context = "in-cluster"
        except k8s_config.ConfigException:
            context = _load_kubeconfig(configuration, auth)

    for name, value in auth.items():
        if name in _NOT_SETTINGS or value is None:
            continue
        if name == "api_key":
            configuration.api_key = {"authorization": "Bearer %s" % value}
        elif name == "proxy_headers":
            configuration.proxy_headers = urllib3.util.make_headers(**value)
        else:
            setattr(configuration, name, value)
    label = ("context %s (%s)" % (context, configuration.host)) if context else configuration.host
    return configuration, label


class _RepeatedHeader(str):
    """A header name that compares unequal to itself, so a list value sends one header per item."""

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    def lower(self):
        return self


def _resource_of(url):
    """'GET deployments', 'PATCH deployments/scale', 'PATCH secrets' ... of a request URL, for the retry count."""
    parts = [p for p in (url or "").split("?", 1)[0].split("/") if p]
    if "namespaces" in parts and len(parts) > parts.index("namespaces") + 2:
        parts = parts[parts.index("namespaces") + 2:]
    else:
        parts = parts[-2:] if len(parts) > 2 else parts
    return "/".join(p for i, p in enumerate(parts) if i == 0 or i == 2) or "/"


def _counted_retry(counter):
    """urllib3's Retry, counting each retry in counter.retried('k8s <METHOD> <resource>')."""

    class CountedRetry(urllib3.util.Retry):
        def increment(self, method=None, url=None, *args, **kwargs):  # pylint: disable=keyword-arg-before-vararg
            new = super().increment(method, url, *args, **kwargs)  # raises MaxRetryError when none are left
            if counter is not None and hasattr(counter, "retried"):
                counter.retried("%s %s" % (method, _resource_of(url)))
            return new

    return CountedRetry


def api_client(configuration, headers=None, pool_size=10, counter=None):
    """An ApiClient with a connection pool sized for the concurrency, and retries, counted in counter.

    Retried, with a short backoff: connection errors (the request never reached the server), a
    connection lost or timed out before the answer (read), 429 (the apiserver's max-in-flight
    limit: refused before anything was done) and 5xx, for reads and for this collection's PATCHes.
    Those are safe to repeat: every PATCH it sends sets values rather than adding to them (a
    Secret's keys; replicas behind a JSON-patch test of the size the plan saw, so a scale already
    applied fails the test and is recognised by the caller; a restart's fixed stamp and digest, so
    a repeated restart changes nothing a second time). Nothing else is sent (no POST or DELETE).
    """
    configuration.connection_pool_maxsize = max(pool_size, 4)
    configuration.retries = _counted_retry(counter)(
        total=6, connect=4, read=4, status=4, other=0, backoff_factor=0.3, backoff_max=5, raise_on_status=False,
        status_forcelist=(429, 500, 502, 503, 504), allowed_methods=frozenset(["GET", "PATCH"]))
    api = k8s_client.ApiClient(configuration)
    for header, value in (headers or {}).items():
        for item in value if isinstance(value, list) else [value]:
            api.set_default_header(_RepeatedHeader(header) if isinstance(value, list) else header, item)
    return api


class KubeApi:
    """The few endpoints this collection calls, over the kubernetes client's ApiClient.

    The ApiClient brings the configuration, authentication (kubeconfig, exec plugins, token
    refresh), TLS, connection pool and retries, and builds every request the way the typed API
    does (param_serialize: path quoting, query, default and auth headers; call_api). Responses
    are decoded into plain dicts, as with kubernetes.core's dynamic client. The typed
    AppsV1Api/CoreV1Api are not used: importing them builds hundreds of model classes (about
    1.3 s per module run with kubernetes 37), and deserialising 100 deployments per poll into
    them costs more than the poll. Method names are the typed API's, and every call is counted
    under its name.
    """

    def __init__(self, client, counter, timeout=REQUEST_TIMEOUT):
        self.client, self.counter, self.timeout = client, counter, timeout

    def _request(self, operation, method, resource_path, path_params=None, query=None, body=None, content_type=None):
        self.counter.add(operation)
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        # Unset options are left out, as the typed API does.
        query_params = [(name, value) for name, value in (query or {}).items() if value is not None]
        request = self.client.param_serialize(
            method=method, resource_path=resource_path, path_params=path_params, query_params=query_params,
            header_params=headers, body=body, auth_settings=["BearerToken"])
        response = self.client.call_api(*request, _request_timeout=self.timeout)
        data = response.read()  # call_api leaves the body unread
        if not 200 <= response.status <= 299:
            # raises the status's subclass (NotFoundException, ...), body = the Status JSON
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return json.loads(data)

    def list_namespaced_deployment(self, namespace, limit=None, _continue=None):
        return self._request("list_namespaced_deployment", "GET", "/apis/apps/v1/namespaces/{namespace}/deployments",
                             {"namespace": namespace}, {"limit": limit, "continue": _continue})

    def read_namespaced_deployment(self, name, namespace):
        return self._request("read_namespaced_deployment", "GET", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
                             {"namespace": namespace, "name": name})

    def patch_namespaced_deployment(self, name, namespace, body, content_type):
        return self._request("patch_namespaced_deployment", "PATCH", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
                             {"namespace": namespace, "name": name}, body=body, content_type=content_type)

    def patch_namespaced_deployment_scale(self, name, namespace, body, content_type):
        return self._request("patch_namespaced_deployment_scale", "PATCH",
                             "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
                             {"namespace": namespace, "name": name}, body=body, content_type=content_type)

    def read_namespace(self, name):
        return self._request("read_namespace", "GET", "/api/v1/namespaces/{name}", {"name": name})

    # Secrets are read to checksum or compare their data: nothing these return may be logged or put in a result.
    def list_namespaced_secret(self, namespace, limit=None, _continue=None):
        return self._request("list_namespaced_secret", "GET", "/api/v1/namespaces/{namespace}/secrets",
                             {"namespace": namespace}, {"limit": limit, "continue": _continue})

    def read_namespaced_secret(self, name, namespace):
        return self._request("read_namespaced_secret", "GET", "/api/v1/namespaces/{namespace}/secrets/{name}",
                             {"namespace": namespace, "name": name})

    def patch_namespaced_secret(self, name, namespace, body, content_type):
        return self._request("patch_namespaced_secret", "PATCH", "/api/v1/namespaces/{namespace}/secrets/{name}",
                             {"namespace": namespace, "name": name}, body=body, content_type=content_type)


def connect(params, counter, pool_size=10):
    """(KubeApi, a label of the target for messages); K8sConnectionError when the options cannot work."""
    configuration, label = build_configuration(auth_settings(params))
    return KubeApi(api_client(configuration, request_headers(params), pool_size, counter), counter), label


def is_status(exc, *codes):
    return ApiException is not None and isinstance(exc, ApiException) and exc.status in codes


def describe_error(exc):
    """A one-line reason: the API's Status message, or the connection problem."""
    if ApiException is not None and isinstance(exc, ApiException):
        message = exc.reason
        try:
            body = json.loads(exc.body)
            message = body.get("message") or message
        except (TypeError, ValueError, AttributeError):
            pass
        return "%s %s" % (exc.status, message)
    reason = getattr(exc, "reason", None)  # urllib3 MaxRetryError: the underlying error
    return str(reason or exc)
