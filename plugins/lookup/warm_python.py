# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: warm_python
short_description: The interpreter setting that runs this controller's modules in a warm Python
version_added: 1.0.0
description:
  - >-
    Returns the value for C(ansible_python_interpreter) that runs the modules of a host with
    C(ansible_connection=local) through this collection's warm interpreter
    (C(plugins/plugin_utils/warm_python.py)), with the controller's own Python.
  - >-
    A server process, started on first use, has ansible's module_utils, boto3, botocore and the
    kubernetes client imported; each module runs in a fork of it, writing to ansible's pipes as a
    new interpreter would. A module task then starts in about 0.05 s instead of about 0.4 s.
  - >-
    The server is started by the first module that needs it, or, with the collection's
    C(lomashwood.multiregion.progress) callback enabled, as the play starts, so it is ready for the
    first module. One server per user, network namespace, interpreter and
    C(PYTHONPATH); it exits after 10 minutes
    unused, or at the next request after its libraries changed on disk. If anything fails before a
    module is handed over, the module runs in a new interpreter as usual. C(LOMASHWOOD_WARM_PYTHON=0)
    in the environment always runs them cold.
  - Only for C(ansible_connection=local) hosts; for other hosts the setting would name a file of the controller.
options: {}
notes:
  - docs/performance.md says what it saves in a failover, and how it is tested.
"""

EXAMPLES = r"""
# inventories/local/hosts.yml
all:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: "{{ lookup('lomashwood.multiregion.warm_python') }}"
"""

RETURN = r"""
_raw:
  description:
    - >-
      The path of a launcher, in a directory of the user's own under the temporary directory, that runs
      the warm interpreter's client with the controller's Python (C(-E -S), so it starts in about 10 ms);
      the controller's Python itself when no launcher can be made there.
  type: list
  elements: str
"""

import sys

from ansible.plugins.lookup import LookupBase

from ansible_collections.lomashwood.multiregion.plugins.plugin_utils import warm_python


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        # The controller's own Python, through a launcher (ansible takes the setting as one path); where
        # no launcher can be made, the plain interpreter. (The first module starts the server; the
        # progress callback starts it as the play starts, so it is ready by then.)
        return [warm_python.launcher(sys.executable) or sys.executable]
