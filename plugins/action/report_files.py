# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.action import ActionBase

from ansible_collections.lomashwood.multiregion.plugins.plugin_utils.progress import runs_here


def write_here(path, content, mode):
    """Write the file whole or not at all (a temporary file beside it, renamed); True when its content changed."""
    data = to_bytes(content)
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                os.chmod(path, mode)
                return False
    except FileNotFoundError:
        pass
    fd, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    return True


class ActionModule(ActionBase):
    """Write the report's files: on this machine directly (connection local: no module to start, the
    runbook's end is not kept waiting), elsewhere through ansible.builtin.copy, file by file."""

    _supports_check_mode = True
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("dir", "files", "mode", "show"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # no effect since ansible-core 2.x; kept in the signature
        args = self._task.args
        folder, files = args.get("dir"), args.get("files")
        if not isinstance(folder, str) or not folder:
            raise AnsibleActionFail("dir: the directory to write the report in is required, got %r" % (folder,))
        if not isinstance(files, dict) or not files or not all(isinstance(k, str) and k for k in files):
            raise AnsibleActionFail("files: a mapping of file name to content is required, got %r" % (files,))
        bad = sorted(name for name in files if os.sep in name or name in (".", ".."))
        if bad:
            raise AnsibleActionFail("files: %s: a file name, not a path (the files go in dir)" % ", ".join(bad))
        try:
            mode = int(str(args.get("mode", "0644")), 8)
        except ValueError as exc:
            raise AnsibleActionFail("mode: an octal file mode such as 0644, got %r" % (args.get("mode"),)) from exc
        show = args.get("show")
        if show is not None and show not in files:
            raise AnsibleActionFail("show: %r is not one of the files (%s)" % (show, ", ".join(files)))
        paths = [os.path.join(folder, name) for name in files]
        result.update(paths=paths, changed=False)
        if show is not None:
            result["shown"] = str(files[show]).split("\n")
        if self._task.check_mode:
            result.update(msg="check mode: would write %s" % ", ".join(paths))
            return result
        if not runs_here(self._connection):
            result["written_by"] = "copy"
            return self._copy_elsewhere(result, folder, files, mode, task_vars)
        result["written_by"] = "controller"
        try:
            os.makedirs(folder, mode=0o755, exist_ok=True)
            for path, content in zip(paths, files.values()):
                result["changed"] |= write_here(path, content, mode)
        except OSError as exc:
            raise AnsibleActionFail("could not write the report in %s: %s" % (folder, exc)) from exc
        return result

    def _copy_elsewhere(self, result, folder, files, mode, task_vars):
        made = self._execute_module(module_name="ansible.legacy.file", task_vars=task_vars,
                                    module_args=dict(path=folder, state="directory", mode="0755"))
        if made.get("failed"):
            return dict(result, failed=True, msg="%s: %s" % (folder, made.get("msg", "failed")))
        result["changed"] = bool(made.get("changed"))
        for name, content in files.items():
            task = self._task.copy()
            task.args = dict(content=content, dest=os.path.join(folder, name), mode="%04o" % mode)
            copy = self._shared_loader_obj.action_loader.get(
                "ansible.legacy.copy", task=task, connection=self._connection, play_context=self._play_context,
                loader=self._loader, templar=self._templar, shared_loader_obj=self._shared_loader_obj)
            step = copy.run(task_vars=task_vars)
            if step.get("failed"):
                return dict(result, failed=True, msg="%s: %s" % (task.args["dest"], step.get("msg", "failed")))
            result["changed"] |= bool(step.get("changed"))
        return result
