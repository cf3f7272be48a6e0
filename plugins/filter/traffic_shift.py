# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters of the traffic_shift role; the logic is in module_utils/traffic_shift.py (pure, unit-tested)."""

from __future__ import annotations

from ansible_collections.lomashwood.multiregion.plugins.module_utils import traffic_shift


class FilterModule:
    def filters(self):
        return {
            "shift_problems": traffic_shift.shift_problems,
            "shift_plan": traffic_shift.plan_shift,
            "shift_gate": traffic_shift.shift_gate,
            "shift_describe": traffic_shift.describe_args,
        }
