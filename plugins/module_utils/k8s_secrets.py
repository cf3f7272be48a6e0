# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The core of k8s_secrets: ensure a set of Secrets of one namespace hold the given data keys.

A merge: the given keys are set, the Secret's other keys are left as they are. Observing is one
list of the namespace's Secrets (k8s_scale.list_secrets); planning is pure (request + observed
-> plan or BatchError naming every missing Secret); applying is one merge patch of `data` per
Secret that differs, carrying only the keys that differ, so a rerun writes nothing.

Secret values live only in the request and in the observed state held in memory for the
comparison. Nothing this module returns is computed from a value beyond "differs or not":
results, plan and diff carry key names and fixed markers only.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from .batch import BatchError, duplicates, run_concurrently
from .k8s_scale import list_secrets

MERGE_PATCH = "application/merge-patch+json"
# Secret names are DNS-1123 subdomains; data keys as the API validates them.
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
# What the diff shows instead of a value.
SET, CHANGED = "(set)", "(changed)"


# ---- observed state ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SecretState:
    """One Secret reduced to what planning needs. data: {key: raw bytes}; never returned."""

    name: str
    data: dict
    immutable: bool = False

    @classmethod
    def from_api(cls, obj):
        data = {}
        for key, value in ((obj.get("data") or {}).items()):
            try:
                data[key] = base64.b64decode(value or "", validate=True)
            except (binascii.Error, ValueError):
                data[key] = None  # not base64 (cannot come from the API): differs from anything
        return cls(obj["metadata"]["name"], data, bool(obj.get("immutable")))


def observe(api, namespace):
    """{name: SecretState} for the whole namespace: one list call (per 500 Secrets)."""
    return {name: SecretState.from_api(obj) for name, obj in list_secrets(api, namespace).items()}


# ---- request ----------------------------------------------------------------------------------

def _value(value, where):
    """A data value as bytes: a string (an int is taken as its digits, as templated ports arrive)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        # The type only, never the value: this message is printed.
        raise ValueError("%s must be a string, got a %s" % (where, type(value).__name__))
    return str(value).encode("utf-8")


def requested_secrets(secrets, require_keys=()):
    """{name: {key: bytes}} in request order; BatchError naming every bad name, key and value type.

    With require_keys (keys every Secret must already hold), a Secret may be given no data: it is
    then only checked.
    """
    if not isinstance(secrets, (list, tuple)) or not secrets:
        raise BatchError(["secrets is empty: name at least one Secret"])
    problems, wanted = [], {}
    for key in require_keys or ():
        if not isinstance(key, str) or len(key) > 253 or not _DATA_KEY.match(key):
            problems.append("require_keys: %r is not a valid data key (letters, digits, '-', '_' and '.')" % (key,))
    for index, item in enumerate(secrets):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or len(name) > 253 or not _SUBDOMAIN.match(name):
            problems.append("secrets[%d]: %r is not a valid Secret name (DNS-1123 subdomain: lower-case letters, "
                            "digits, '-' and '.', starting and ending with a letter or digit)" % (index, name))
            continue
        data = item.get("data")
        if isinstance(data, dict) and not data and require_keys:
            wanted.setdefault(name, {})
            continue
        if not isinstance(data, dict) or not data:
            problems.append("%s: data is empty: give at least one key" % name)
            continue
        values = {}
        for key, value in data.items():
            if not isinstance(key, str) or len(key) > 253 or not _DATA_KEY.match(key):
                problems.append("%s: %r is not a valid data key (letters, digits, '-', '_' and '.')" % (name, key))
                continue
            try:
                values[key] = _value(value, "%s: %s" % (name, key))
            except ValueError as exc:
                problems.append(str(exc))
        wanted.setdefault(name, values)
    dups = duplicates([i.get("name") for i in secrets if isinstance(i, dict) and isinstance(i.get("name"), str)])
    if dups:
        problems.append("duplicate Secret names: %s" % ", ".join(dups))
    if problems:
        raise BatchError(problems)
    return wanted


# ---- plan -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SecretChange:
    """What to do to one Secret: update (the keys in keys_changed) or none. patch: {key: bytes}."""

    name: str
    action: str
    keys_changed: tuple = ()
    keys_given: tuple = ()
    patch: dict = None  # the values to write; never returned

    @property
    def changed(self):
        return self.action == "update"

    def as_dict(self):
        return {"name": self.name, "action": self.action, "keys_changed": list(self.keys_changed)}


def plan_secrets(wanted, observed, namespace, where="", require_keys=()):
    """One SecretChange per requested Secret; BatchError naming every missing or immutable one, and
    every one that lacks a key of require_keys (neither held nor given).

    A key is changed when the Secret lacks it or holds other bytes; only those keys are patched.
    """
    where = " (%s)" % where if where else ""
    problems, plan = [], []
    for name, data in wanted.items():
        secret = observed.get(name)
        if secret is None:
            problems.append("no Secret named %r in namespace %s%s" % (name, namespace, where))
            continue
        lacking = [k for k in require_keys or () if not secret.data.get(k) and k not in data]
        if lacking:
            problems.append("Secret %r in namespace %s lacks the key(s) %s%s" % (name, namespace, ", ".join(lacking), where))
            continue
        keys = tuple(sorted(k for k, v in data.items() if secret.data.get(k) != v))
        if keys and secret.immutable:
            problems.append("Secret %r in namespace %s is immutable; its keys %s cannot change%s"
                            % (name, namespace, ", ".join(keys), where))
            continue
        plan.append(SecretChange(name, "update" if keys else "none", keys, tuple(data),
                                 {k: data[k] for k in keys}))
    if problems:
        raise BatchError(problems)
    return plan


def simulate(change, secret):
    """The Secret check mode predicts: the changed keys hold the requested bytes."""
    return SecretState(secret.name, dict(secret.data, **(change.patch or {})), secret.immutable)


def view(change, before, after=None):
    """What results and --diff show of a Secret: its given keys, each with a marker, never a value.

    Before: "(set)" for each given key it holds. After: "(set)" when unchanged, "(changed)" when
    the key holds other bytes than before (or is new).
    """
    if after is None:
        return {k: SET for k in change.keys_given if k in before.data}
    return {k: (SET if k in before.data and before.data[k] == after.data[k] else CHANGED)
            for k in change.keys_given if k in after.data}


# ---- apply ------------------------------------------------------------------------------------

def merge_patch(change):
    """The body of the PATCH: the changed keys of `data`, base64, nothing else."""
    return {"data": {k: base64.b64encode(v).decode("ascii") for k, v in sorted(change.patch.items())}}


def apply_plan(api, namespace, plan, max_concurrency):
    """Patch every changed Secret concurrently. Returns ({name: SecretState the API answered}, {name: exception})."""
    todo = [c for c in plan if c.changed]
    outcomes = run_concurrently(
        lambda c: SecretState.from_api(api.patch_namespaced_secret(c.name, namespace, merge_patch(c), MERGE_PATCH)),
        todo, max_concurrency)
    written = {change.name: state for change, state, exc in outcomes if exc is None}
    return written, {change.name: exc for change, _state, exc in outcomes if exc is not None}
