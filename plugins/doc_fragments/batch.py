# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # Options every batch module of this collection shares: concurrency and the shared wait.
    # Their argument spec is module_utils/batch.py BATCH_ARGUMENT_SPEC (a unit test keeps the two alike).
    DOCUMENTATION = r"""
options:
  max_concurrency:
    description:
      - How many resources are worked on at the same time.
    type: int
    default: 10
  wait:
    description:
      - Wait until every resource of the batch has reached its end state.
      - One poll per I(poll_interval) serves the whole batch.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait before failing, counted from the start of the run. The batch is polled a
        last time exactly at the deadline. The failure names the resources that are done and
        those that are not.
    type: int
    default: 1800
  poll_interval:
    description:
      - Seconds between two polls of the batch.
    type: float
    default: 10
  progress_file:
    description:
      - A file the batch's progress is written to after every poll while it waits (JSON, replaced
        atomically), saying which resources are done and how far each pending one got.
      - >-
        The collection's action plugins set it themselves when the task runs on the controller, and
        print one line from it while the module waits, for example
        "promotions: 5/8 available (auth, orders, ...), pending: analytics (modifying); 41s so far".
        Set it for a task run with C(async), and wait for the job with
        M(lomashwood.multiregion.job_wait), which prints it too.
    type: path
"""

    RETURN = r"""
elapsed_seconds:
  description: Wall time of the module run, in seconds.
  returned: always
  type: float
  sample: 4.37
api_calls:
  description: API operations made, counted by name (retries included), to compare runs.
  returned: always
  type: dict
  sample: {"DescribeDBInstances": 6, "PromoteReadReplica": 8}
polls:
  description: How many times the batch was polled while waiting (one poll serves the whole batch).
  returned: always
  type: int
  sample: 9
pending:
  description: The resources not done when the wait timed out.
  returned: on timeout
  type: list
  elements: str
done:
  description: The resources done when the wait timed out.
  returned: on timeout
  type: list
  elements: str
problems:
  description: Every reason the batch was refused before anything changed.
  returned: when refused
  type: list
  elements: str
"""
