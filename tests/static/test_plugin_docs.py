"""ansible-doc documents every plugin of the collection: each filter a FilterModule defines, each
callback, each module (scripts/test.sh also renders each module's page)."""

from __future__ import annotations

import glob
import importlib
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
COLLECTION = "lomashwood.multiregion"


def _names(kind):
    """The plugin names of a kind, from the code (not from ansible-doc, which lists only documented ones)."""
    files = sorted(glob.glob(os.path.join(ROOT, "plugins", kind, "*.py")))
    if kind != "filter":
        return [os.path.basename(f)[:-3] for f in files if not os.path.basename(f).startswith("_")]
    names = []
    for path in files:
        module = importlib.import_module("ansible_collections.lomashwood.multiregion.plugins.filter." + os.path.basename(path)[:-3])
        names += sorted(module.FilterModule().filters())
    return names


@pytest.mark.parametrize("kind,doc_type", [("filter", "filter"), ("callback", "callback"), ("modules", "module")])
def test_ansible_doc_documents_every_plugin(kind, doc_type):
    names = _names(kind)
    if not names:
        pytest.skip("no %s plugins" % kind)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", doc_type, "--json"] + ["%s.%s" % (COLLECTION, n) for n in names],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    docs = json.loads(proc.stdout)
    undocumented = [n for n in names if not (docs.get("%s.%s" % (COLLECTION, n)) or {}).get("doc", {}).get("short_description")]
    assert not undocumented, "%s without ansible-doc documentation: %s" % (kind, undocumented)
