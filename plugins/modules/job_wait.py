#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: job_wait
short_description: Wait for an async job, saying what it is doing
version_added: 0.2.0
description:
  - >-
    Waits for a job started with C(async) and C(poll: 0), asking C(ansible.builtin.async_status)
    once per I(poll_interval), and returns the job's result as C(async_status) does, with
    C(finished) true.
  - >-
    While it waits, it prints the progress the job's module writes to I(progress_file) (the
    collection's batch modules write one when given the option), for example
    "promotions: 5/8 available (auth, orders, ...), pending: analytics (modifying); 41s so far":
    when a resource is done, when something else changed (at most every 10 s), and every 30 s
    otherwise. Instead of an C(until)/C(retries) loop over C(async_status), which prints
    C(FAILED - RETRYING) once a poll and says nothing of what is done.
  - The lines go through Ansible's display, so every stdout callback shows them (AWX's too).
  - Runs as an action plugin on the controller; the progress file is read only when the task runs
    there (connection C(local)).
options:
  jid:
    description: The job id, C(ansible_job_id) of the task started with C(async).
    type: str
    required: true
  progress_file:
    description:
      - The progress file the job's module writes (its I(progress_file) option). Without it the
        wait prints nothing until the job ends.
    type: path
  timeout:
    description:
      - Seconds to wait before failing. The job goes on running; a second wait takes it up.
    type: int
    default: 3600
  poll_interval:
    description:
      - Seconds between two looks at the job (each an C(async_status) run).
      - >-
        On the controller (connection local) the job's status file is also looked at every 0.1 s
        between two looks, and a change to it (the job's result written) brings the next look
        forward: the wait ends within about 0.1 s of the job, whatever I(poll_interval) is.
    type: float
    default: 5
extends_documentation_fragment:
  - lomashwood.multiregion.attributes
attributes:
  action:
    description: Runs as an action plugin on the controller.
    support: full
  check_mode:
    support: full
    details: It only reads the job's state; a task in check mode has no job to wait for, so skip it there.
  diff_mode:
    support: none
notes:
  - >-
    The job directory is the task's C(ansible_async_dir), as for C(async_status); give the wait
    the same value as the task that started the job.
seealso:
  - module: ansible.builtin.async_status
author:
  - Lomash Wood platform team (@lomashwood)
"""

EXAMPLES = r"""
- name: Promote every replica, as a background job
  lomashwood.multiregion.rds_promote_batch:
    source_region: eu-west-1
    progress_file: /var/tmp/promotions.progress.json
  async: 3600
  poll: 0
  register: promote_job

- name: Wait for the promotions, printing which are done
  lomashwood.multiregion.job_wait:
    jid: "{{ promote_job.ansible_job_id }}"
    progress_file: /var/tmp/promotions.progress.json
    timeout: 3600
    poll_interval: 10
  register: promoted
"""

RETURN = r"""
finished:
  description: Whether the job finished (always true on success).
  returned: always
  type: bool
  sample: true
ansible_job_id:
  description: The job waited for.
  returned: always
  type: str
  sample: "j184234587364.2381"
wait_polls:
  description: How many times the job was looked at.
  returned: always
  type: int
  sample: 7
wait_seconds:
  description: How long the wait took, in seconds.
  returned: success
  type: float
  sample: 41.3
"""
