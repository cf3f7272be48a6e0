# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.lomashwood.multiregion.plugins.plugin_utils.progress import ProgressAction


class ActionModule(ProgressAction):
    """health_wait, what the endpoint answers printed while it waits (plugin_utils/progress.py)."""
