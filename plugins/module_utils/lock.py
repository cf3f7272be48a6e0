# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The failover lock: one record in the standby region that says who is failing over.

The decision is pure (state asked for + what the record holds -> action) so it is unit-tested;
the module creates the record atomically (create-if-absent) so two runs cannot both win.
"""

from __future__ import annotations

import json

from .batch import BatchError


def parse_record(value):
    try:
        record = json.loads(value)
    except (TypeError, ValueError):
        return {"holder": str(value)}
    return record if isinstance(record, dict) else {"holder": str(record)}


def decide(state, current, holder, force=False):
    """Return 'acquire', 'release', 'takeover' or None (nothing to do); raise BatchError to refuse.

    The same holder asking again is a resumed run: it keeps the lock. Another holder is refused
    and told who holds it, unless force (a lock left by a run that will never come back).
    """
    if state == "present":
        if current is None:
            return "acquire"
        if current.get("holder") == holder:
            return None
        if force:
            return "takeover"
        raise BatchError(["the failover lock is held by %r since %s (%s); refusing to start a second run "
                          "(force: true only if that run is dead)"
                          % (current.get("holder"), current.get("acquired_at", "?"), current.get("purpose", "no purpose given"))])
    if current is None:
        return None
    if current.get("holder") == holder or force:
        return "release"
    raise BatchError(["the failover lock is held by %r, not by %r; not releasing it" % (current.get("holder"), holder)])
