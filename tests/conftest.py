"""Test-wide set-up: run ansible with this venv's Python, and make the collection importable."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("ANSIBLE_PYTHON_INTERPRETER", sys.executable)
os.environ.setdefault("ANSIBLE_CONFIG", os.path.join(ROOT, "ansible.cfg"))
sys.path.insert(0, os.path.join(ROOT, "collections"))
