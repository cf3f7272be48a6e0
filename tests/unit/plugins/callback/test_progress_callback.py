"""The progress callback starts the warm interpreter's server only for a play whose hosts use it."""

from __future__ import annotations

import json
import textwrap

from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.playbook import Playbook
from ansible.vars.manager import VariableManager

from ansible_collections.lomashwood.multiregion.plugins.callback import progress


def _play(tmp_path, inventory, hosts):
    (tmp_path / "hosts.yml").write_text(json.dumps(inventory))
    (tmp_path / "play.yml").write_text(textwrap.dedent("""\
        - hosts: %s
          gather_facts: false
          tasks: [{ansible.builtin.ping: {}}]
        """ % hosts))
    loader = DataLoader()
    manager = VariableManager(loader=loader, inventory=InventoryManager(loader=loader, sources=[str(tmp_path / "hosts.yml")]))
    return Playbook.load(str(tmp_path / "play.yml"), variable_manager=manager, loader=loader).get_plays()[0]


WARM = "{{ lookup('lomashwood.multiregion.warm_python') }}"
INVENTORY = {"all": {"children": {
    "dr_controller": {"hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": WARM}}},
    "warm_by_group": {"hosts": {"h2": {}}, "vars": {"ansible_python_interpreter": WARM}},
    "cold": {"hosts": {"h3": {"ansible_python_interpreter": "/usr/bin/python3"}}}}}}


def test_a_host_or_its_group_naming_the_lookup_uses_it(tmp_path):
    assert progress._uses_warm_python(_play(tmp_path, INVENTORY, "dr_controller"))
    assert progress._uses_warm_python(_play(tmp_path, INVENTORY, "warm_by_group"))


def test_other_hosts_do_not(tmp_path):
    assert not progress._uses_warm_python(_play(tmp_path, INVENTORY, "cold"))
