# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The failover lock: one record in the standby region that says who is failing over, and until when.

A record is {holder, owner, reason, started, expires_at, ttl_seconds, write_id}. The holder is the run
(e.g. "failover:INC-2041": the same holder again is a resumed run); owner and reason say who
started it and why; expires_at is when the lock goes stale (a run that died never releases it);
write_id is unique to the write, so a write retried after its answer was lost knows its own record.

The decision is pure (state asked for + what the record holds + now -> action) so it is
unit-tested; the module creates the record atomically (create-if-absent) so two runs cannot
both win, and breaks a stale one through a create-if-absent token (see the module).

Records written before expiry existed ({holder, acquired_at, purpose}) are read as
started=acquired_at, reason=purpose, expiring DEFAULT_TTL_SECONDS after they started. A record
without a readable start time cannot be shown to be live, so it counts as stale (it can then
be broken, on purpose, like any stale lock).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from .batch import BatchError

DEFAULT_TTL_SECONDS = 4 * 3600  # a failover is well under an hour; a failback a few
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_time(when):
    return when.astimezone(timezone.utc).strftime(TIME_FORMAT)


def parse_time(value):
    """A UTC datetime from the record's "YYYY-MM-DDTHH:MM:SSZ" (or any ISO 8601 with a zone); None if unreadable."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else None


def parse_record(value):
    """The lock record from the parameter's value, legacy keys read as the new ones."""
    try:
        record = json.loads(value)
    except (TypeError, ValueError):
        record = None
    if not isinstance(record, dict):
        return {"holder": str(value)}
    record = dict(record)
    if "reason" not in record and "purpose" in record:
        record["reason"] = record.pop("purpose")
    if "started" not in record and "acquired_at" in record:
        record["started"] = record.pop("acquired_at")
    return record


def new_record(holder, owner, reason, ttl_seconds, now, started=None, write_id=None):
    """The record to write. write_id, unique to one write, lets the writer know its own record again when the
    answer to its write was lost and the retried write finds the record there (is_own_write)."""
    record = {"holder": holder, "owner": owner or "", "reason": reason or "",
              "started": started or format_time(now),
              "expires_at": format_time(now + timedelta(seconds=ttl_seconds)), "ttl_seconds": ttl_seconds}
    if write_id:
        record["write_id"] = write_id
    return record


def is_own_write(found, record):
    """Whether the record found is the one `record` wrote: the same holder and the same write_id (a create that
    succeeded on the server, whose answer was lost, and whose retry was then told the record exists)."""
    return bool(found and record.get("write_id") and found.get("write_id") == record["write_id"]
                and found.get("holder") == record.get("holder"))


def expires_at(record):
    """When the record goes stale; None when that cannot be told (counts as stale)."""
    when = parse_time(record.get("expires_at"))
    if when is not None:
        return when
    started = parse_time(record.get("started"))
    return started + timedelta(seconds=DEFAULT_TTL_SECONDS) if started else None


def is_stale(record, now):
    when = expires_at(record)
    return when is None or when <= now


def describe(record, now):
    """The holder, for a refusal or the report: "'failover:INC-1' (owner alice, reason: eu-west-1 down), since ..., ..."."""
    when = expires_at(record)
    if when is None:
        expiry = "no readable expiry, so stale"
    elif when <= now:
        expiry = "stale: expired at %s, %d min ago" % (format_time(when), (now - when).total_seconds() // 60)
    else:
        expiry = "live until %s, %d min left" % (format_time(when), -(-(when - now).total_seconds() // 60))
    return "%r (owner %s; reason: %s) since %s, %s" % (
        record.get("holder"), record.get("owner") or "unknown", record.get("reason") or "none given",
        record.get("started", "?"), expiry)


def broken_record(record, now):
    """The old holder as the result (and the report) shows a lock that was broken."""
    when = expires_at(record)
    return {"holder": record.get("holder"), "owner": record.get("owner", ""), "reason": record.get("reason", ""),
            "started": record.get("started", ""), "expires_at": format_time(when) if when else "",
            "expired": True,
            "expired_seconds_ago": int((now - when).total_seconds()) if when else None}


def decide(state, current, holder, now, break_stale=False):
    """Return 'acquire', 'renew', 'break_stale', 'release' or None (nothing to do); raise BatchError to refuse.

    present: no lock -> acquire. The same holder is a resumed run: it keeps a live lock (None) and
    renews its own stale one. Another holder's live lock is refused, always, naming the holder;
    its stale lock is refused unless break_stale (then replaced: 'break_stale').
    absent: only the holder releases its lock; another holder's stale lock is cleared with
    break_stale ('break_stale'); a live one never.
    """
    if current is None:
        return "acquire" if state == "present" else None
    if current.get("holder") == holder:
        if state == "absent":
            return "release"
        return "renew" if is_stale(current, now) else None
    who = describe(current, now)
    if not is_stale(current, now):
        if state == "present":
            raise BatchError(["the failover lock is held by %s; refusing to start a second run. A live lock is "
                              "never taken over: wait for its run to finish or expire" % who])
        raise BatchError(["the failover lock is held by %s, not by %r; not releasing it (only its holder does)"
                          % (who, holder)])
    if break_stale:
        return "break_stale"
    raise BatchError(["the failover lock is held by %s; refusing. If that run is dead, break the stale lock on "
                      "purpose with break_stale: true" % who])
