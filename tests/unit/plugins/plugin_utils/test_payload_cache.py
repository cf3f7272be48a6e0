"""The payload builder finds the modules a play runs, fills the run's own AnsiballZ cache with them, and a run's
worker then takes its module from that cache instead of building it (ANSIBLE_DEBUG says which)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from ansible import constants as C
from ansible.parsing.dataloader import DataLoader
from ansible.playbook import Playbook
from ansible.template import Templar
from ansible.vars.manager import VariableManager

from ansible_collections.lomashwood.multiregion.plugins.plugin_utils import payload_cache

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
BIN = os.path.dirname(sys.executable)


def _play(tmp_path, tasks):
    book = tmp_path / "play.yml"
    book.write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n" + textwrap.indent(tasks, "    "))
    loader = DataLoader()
    return Playbook.load(str(book), variable_manager=VariableManager(loader=loader), loader=loader).get_plays()[0]


def test_the_modules_a_play_runs_in_order_and_its_roles(tmp_path):
    play = _play(tmp_path, textwrap.dedent("""\
        - ansible.builtin.debug: msg=no module
        - ansible.builtin.set_fact: {a: 1}
        - block:
            - lomashwood.multiregion.region_probe: {region: eu-west-2}
          rescue:
            - ansible.builtin.ping:
          always:
            - ansible.builtin.copy: {content: x, dest: /tmp/x}
        - lomashwood.multiregion.job_wait: {jid: "1"}
        - lomashwood.multiregion.rds_promote_batch: {db_instance_identifiers: [a]}
        - amazon.aws.aws_caller_info:
        - ansible.builtin.include_role: {name: lomashwood.multiregion.dns, tasks_from: status}
        """))
    names, roles = payload_cache.play_modules(play)
    assert names == [
        "lomashwood.multiregion.region_probe", "ansible.builtin.ping",
        "ansible.legacy.stat", "ansible.legacy.copy", "ansible.legacy.file",
        "ansible.legacy.async_wrapper", "ansible.legacy.async_status",
        "lomashwood.multiregion.rds_promote_batch", "amazon.aws.aws_caller_info"]
    assert roles == ["lomashwood.multiregion.dns"]


def test_the_modules_a_roles_task_files_name():
    """The dns role's task files run route53_failover; its included files are read too, not only main.yml."""
    names = payload_cache.role_modules(["lomashwood.multiregion.dns", "no.such.role", "not_a_collection_role"])
    # route53_failover's own tasks, and the reads its status read makes together (read_together)
    assert set(names) == {"lomashwood.multiregion." + name
                          for name in ("route53_failover", "region_probe", "rds_promote_batch", "k8s_secrets")} | {
                              "amazon.aws.aws_caller_info", "amazon.aws.rds_instance_info"}
    assert "lomashwood.multiregion.rds_retire_batch" in payload_cache.role_modules(["lomashwood.multiregion.restore_standby"])


def test_a_roles_run_time_modules_come_where_the_play_first_reaches_the_role(tmp_path):
    """What a role includes at run time (a task file named by a variable) is built where the role comes, not
    after the whole play's static tasks: preflight's reads before the promotions' modules."""
    play = _play(tmp_path, textwrap.dedent("""        - ansible.builtin.include_role: {name: lomashwood.multiregion.dns, tasks_from: status}
        - lomashwood.multiregion.rds_modify_batch: {instances: []}
        """))
    names, roles = payload_cache.play_modules(play, with_roles=True)
    assert names.index("lomashwood.multiregion.route53_failover") < names.index("lomashwood.multiregion.rds_modify_batch")
    assert "lomashwood.multiregion.region_probe" in names[:4], names  # what status.yml reads together
    assert roles == ["lomashwood.multiregion.dns"]
    assert payload_cache.play_modules(play)[0] == ["lomashwood.multiregion.rds_modify_batch"]


def test_build_puts_the_payload_in_the_runs_cache():
    cache = os.path.join(C.DEFAULT_LOCAL_TMP, "ansiballz_cache")
    before = set(os.listdir(cache)) if os.path.isdir(cache) else set()
    assert payload_cache.build("lomashwood.multiregion.region_probe", "ZIP_DEFLATED", Templar(loader=DataLoader()))
    added = set(os.listdir(cache)) - before
    assert any(name.startswith("ansible_collections.lomashwood.multiregion.plugins.modules.region_probe-ZIP_DEFLATED")
               and not name.endswith(".lock") for name in added), added
    assert not payload_cache.build("lomashwood.multiregion.no_such_module", "ZIP_DEFLATED", Templar(loader=DataLoader()))


def _run(tmp_path, prebuild):
    book = tmp_path / "ping.yml"
    # The pause gives the builder its moment; the ping is the run's first (and only) module.
    book.write_text(textwrap.dedent("""\
        - hosts: localhost
          gather_facts: false
          tasks:
            - ansible.builtin.pause: {seconds: 2}
            - ansible.builtin.ping:
        """))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_DEBUG="1", ANSIBLE_NOCOLOR="1",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, LOMASHWOOD_PREBUILD=prebuild)
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", str(book)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_a_run_takes_its_module_from_the_prebuilt_cache(tmp_path):
    out = _run(tmp_path, "1")
    assert "ANSIBALLZ: Creating module" not in out
    assert "ANSIBALLZ: using cached module" in out and "ansible.modules.ping-" in out


def test_without_the_builder_the_worker_builds_it(tmp_path):
    assert "ANSIBALLZ: Creating module" in _run(tmp_path, "0")
