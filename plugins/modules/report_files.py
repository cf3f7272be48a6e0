#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: report_files
short_description: Write a run's report files on the controller
version_added: 1.1.0
description:
  - >-
    Writes each of I(files) (name and content) into I(dir), making I(dir) when it is not there. Each
    file is written whole or not at all (a temporary file beside it, renamed into place); a file
    whose content is already the same is left as it is.
  - >-
    Runs as an action plugin. Where the task runs on the controller (connection C(local), as the
    runbook's playbooks do), it writes the files itself, with no module to start, so the end of a
    runbook is not kept waiting for its report; elsewhere it runs C(ansible.builtin.file) and
    C(ansible.builtin.copy) for them, as the tasks it replaces did.
options:
  dir:
    description: The directory to write the files in (made, mode C(0755), when it is not there).
    type: path
    required: true
  files:
    description: File name (not a path) to its content.
    type: dict
    required: true
  mode:
    description: The files' mode, in octal.
    type: str
    default: "0644"
  show:
    description:
      - One of I(files) whose content is returned as C(shown), a list of its lines, for a task after it to print
        (the report's Markdown, without rendering it a second time).
    type: str
extends_documentation_fragment:
  - lomashwood.multiregion.attributes
attributes:
  action:
    description: Runs as an action plugin on the controller.
    support: full
  check_mode:
    support: full
    details: In check mode nothing is written; the paths it would write are returned.
  diff_mode:
    support: none
author:
  - Lomash Wood platform team (@lomashwood)
"""

EXAMPLES = r"""
- name: Write the JSON and Markdown reports
  lomashwood.multiregion.report_files:
    dir: reports
    files:
      failover-20261206T031500Z.json: "{{ dr_report | to_nice_json }}\n"
      failover-20261206T031500Z.md: "{{ lookup('ansible.builtin.template', 'report.md.j2') }}"
    show: failover-20261206T031500Z.md
  check_mode: false
  register: report

- name: Show it
  ansible.builtin.debug:
    msg: "{{ report.shown }}"
"""

RETURN = r"""
paths:
  description: The files' paths, in the order given.
  returned: always
  type: list
  elements: str
  sample: ["reports/failover-20261206T031500Z.json", "reports/failover-20261206T031500Z.md"]
shown:
  description: The lines of the file named by I(show).
  returned: with I(show)
  type: list
  elements: str
written_by:
  description: C(controller) when the files were written directly, C(copy) when through the file and copy modules.
  returned: unless in check mode
  type: str
  sample: controller
"""
