# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # The attributes every module of this collection has.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Can run in check mode and return the plan without making any change.
    support: full
  diff_mode:
    description: Returns the before and after state of each resource in diff mode.
    support: full
  idempotent:
    description: A second run after success reports no change and makes no mutating call.
    support: full
"""
