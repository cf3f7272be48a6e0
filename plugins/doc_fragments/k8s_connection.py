# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # The Kubernetes target of this collection's modules. The connection options themselves are
    # kubernetes.core's (extend kubernetes.core.k8s_auth_options alongside this fragment).
    DOCUMENTATION = r"""
options:
  namespace:
    description:
      - The namespace the deployments live in.
    type: str
    default: lomash-wood
notes:
  - The connection options are those of C(kubernetes.core), with the same precedence. An option, else its
    C(K8S_AUTH_*) environment variable; I(host) with I(api_key) (or a client certificate) needs no kubeconfig;
    else I(kubeconfig) and I(context) when either is given; else the in-cluster service account; else the
    default kubeconfig (C(KUBECONFIG) or C(~/.kube/config)) and its current context.
  - A I(context) that is not in the kubeconfig, a kubeconfig that cannot be read and an API server that
    cannot be reached are reported before any change, naming the context and server.
  - Reads are retried on connection errors, HTTP 429 and 5xx with backoff; writes only on connection errors
    (they are compare-and-set, see I(services)).
  - The group C(lomashwood.multiregion.k8s) in C(module_defaults) sets these options once for this
    collection's Kubernetes modules and for C(kubernetes.core)'s.
requirements:
  - kubernetes >= 24.2.0 (Python client)
"""
