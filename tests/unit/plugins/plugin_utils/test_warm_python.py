"""The warm interpreter runs a script as a new `python` would: output, exit code, environment, working
directory, exit handlers; it falls back to a cold interpreter when off or stale; and a module whose client
is killed dies with it, while what a finished module left running stays."""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import pytest

from ansible_collections.lomashwood.multiregion.plugins.plugin_utils import warm_python

SERVERS = []


@pytest.fixture
def short_tmp():
    """A temporary directory with a short path (a socket's path is at most 107 bytes)."""
    path = tempfile.mkdtemp(prefix="wp", dir="/tmp")
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def warm(short_tmp, monkeypatch):
    """The launcher, with the servers' directory under its own TMPDIR (each test its own server)."""
    monkeypatch.setenv("TMPDIR", str(short_tmp))
    path = warm_python.launcher(sys.executable)
    assert path and path.startswith(str(short_tmp)) and os.access(path, os.X_OK)
    yield path
    folder = os.path.join(str(short_tmp), "lomashwood-warm-%d" % os.getuid())
    for name in os.listdir(folder):
        if name.endswith(".sock"):
            stop_server(os.path.join(folder, name))


def stop_server(sock):
    """Kill the server listening on sock (found through /proc: the process whose argv names it)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if b"--serve" in argv and sock.encode() in argv:
            os.kill(int(pid), signal.SIGKILL)


def run(launcher, script=None, stdin=b"", args=(), env=None, cwd=None, umask=None):
    argv = [launcher] + ([script] if script else []) + list(args)
    return subprocess.run(argv, input=stdin, capture_output=True, env=dict(os.environ, **(env or {})), cwd=cwd,
                          timeout=60, check=False, umask=-1 if umask is None else umask)


def served(short_tmp):
    """Whether a server runs for this test (its socket exists)."""
    folder = os.path.join(str(short_tmp), "lomashwood-warm-%d" % os.getuid())
    return any(name.endswith(".sock") for name in os.listdir(folder))


def test_a_script_on_stdin_runs_as_main_with_its_output_and_exit_code(warm, short_tmp):
    source = b"import sys, os\nprint('out', __name__, sys.argv)\nsys.stderr.write('err\\n')\nsys.exit(7)\n"
    first = run(warm, stdin=source)
    assert (first.returncode, first.stdout, first.stderr) == (7, b"out __main__ ['']\n", b"err\n")
    assert served(short_tmp)
    again = run(warm, stdin=source)  # the second one is served by the running server
    assert (again.returncode, again.stdout) == (7, b"out __main__ ['']\n")


def test_a_script_file_gets_its_argv_environment_working_directory_and_umask(warm, tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import os, sys\nprint(sys.argv[1:], os.environ['WARM_TEST'], os.getcwd(), oct(os.umask(0)),"
                      " sys.path[0] == os.path.dirname(os.path.abspath(__file__)))\n")
    where = tmp_path / "here"
    where.mkdir()
    out = run(warm, str(script), args=["a", "b c"], env={"WARM_TEST": "x y"}, cwd=str(where), umask=0o027)
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode().split("\n")[0] == "['a', 'b c'] x y %s 0o27 True" % where, out


def test_an_exception_is_reported_from_the_scripts_frame_and_exits_1(warm):
    out = run(warm, stdin=b"raise ValueError('bad value 42')\n")
    assert out.returncode == 1
    assert b"ValueError: bad value 42" in out.stderr and b"warm_python" not in out.stderr, out.stderr


def test_exit_handlers_run_and_threads_are_joined(warm, tmp_path):
    mark = tmp_path / "mark"
    out = run(warm, stdin=("import atexit, threading, time\n"
                           "def late():\n    time.sleep(0.3)\n    open(%r, 'a').write('thread ')\n"
                           "threading.Thread(target=late).start()\n"
                           "atexit.register(lambda: open(%r, 'a').write('atexit'))\n" % (str(mark), str(mark))).encode())
    assert out.returncode == 0, out.stderr
    assert mark.read_text() == "thread atexit"


def test_switched_off_it_runs_cold(warm, short_tmp):
    out = run(warm, stdin=b"import sys; print('boto3' in sys.modules)\n", env={"LOMASHWOOD_WARM_PYTHON": "0"})
    assert out.stdout == b"False\n" and not served(short_tmp)
    warmed = run(warm, stdin=b"import sys; print('boto3' in sys.modules)\n")
    assert warmed.stdout == (b"True\n" if _has("boto3") else b"False\n")


def test_interpreter_options_run_cold(warm):
    out = run(warm, None, args=["-c", "import sys; print(sys.flags.no_site)"])
    assert out.returncode == 0 and out.stdout == b"0\n", out  # the real interpreter, with site


def test_a_server_whose_libraries_changed_refuses_and_the_script_still_runs(warm, short_tmp, monkeypatch):
    first = run(warm, stdin=b"print(1)\n")
    assert first.stdout == b"1\n" and served(short_tmp)
    # Make the running server see a changed file: touch the first watched file it loaded.
    watched = [m for m in warm_python.WATCHED if m in sys.modules and getattr(sys.modules[m], "__file__", None)]
    assert watched
    path = sys.modules[watched[0]].__file__
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    try:
        out = run(warm, stdin=b"print(2)\n")
        assert out.returncode == 0 and out.stdout == b"2\n", out
    finally:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_killed_client_takes_its_module_with_it(warm, tmp_path):
    mark = tmp_path / "alive"
    proc = subprocess.Popen([warm], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(("import os, time\nprint(os.getpid(), flush=True)\n"
                      "while True:\n    open(%r, 'w').write(str(time.time()))\n    time.sleep(0.05)\n" % str(mark)).encode())
    proc.stdin.close()
    child = int(proc.stdout.readline())
    assert _alive(child)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the module ran on after its client was killed"


def test_what_a_finished_module_left_running_stays(warm, tmp_path):
    out = run(warm, stdin=b"import subprocess, sys\n"
                          b"p = subprocess.Popen(['sleep', '30'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
                          b"print(p.pid)\n")
    pid = int(out.stdout)
    try:
        time.sleep(0.3)
        assert _alive(pid)
    finally:
        os.kill(pid, signal.SIGKILL)


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            return handle.read().split(b") ")[1][:1] != b"Z"
    except OSError:
        return False


def _has(name):
    try:
        __import__(name)
        return True
    except ImportError:
        return False


def test_a_process_the_script_forks_neither_reports_nor_ends_the_run(warm):
    """async_wrapper forks and its first child exits at once (sys.exit): that exit is not the module's, and the
    client must not take it for the end (it would leave, and the watch kill the module before it prints)."""
    out = run(warm, stdin=b"import os, sys, time\npid = os.fork()\nif pid == 0:\n    sys.exit(5)\n"
                          b"os.waitpid(pid, 0)\ntime.sleep(0.3)\nprint('parent done')\nsys.exit(3)\n")
    assert (out.returncode, out.stdout) == (3, b"parent done\n"), out


SHARED_LOADER = b"""import boto3.session
one = boto3.session.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name="eu-west-2")
two = boto3.session.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name="eu-west-2")
rds = one.client("rds")
paths = two._loader.search_paths
print(one._loader is two._loader, len(paths) == len(set(paths)), rds.meta.service_model.service_name,
      two.client("rds").meta.service_model.operation_model("PromoteReadReplica").name)
"""


@pytest.mark.skipif(not _has("boto3"), reason="boto3 is not installed")
def test_modules_share_the_servers_botocore_models_and_get_the_same_clients(warm):
    warmed = run(warm, stdin=SHARED_LOADER)
    assert warmed.stdout == b"True True rds PromoteReadReplica\n", warmed
    cold = run(warm, stdin=SHARED_LOADER, env={"LOMASHWOOD_WARM_PYTHON": "0"})
    assert cold.stdout == b"False True rds PromoteReadReplica\n", cold


def test_a_server_that_cannot_start_costs_a_moment_not_the_run(warm, short_tmp):
    """A server that dies at start (here a sitecustomize that ends it) leaves the module to run cold, soon."""
    site = short_tmp / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nif '--serve' in sys.argv:\n    sys.exit(1)\n")
    started = time.monotonic()
    out = run(warm, stdin=b"print('ran')\n", env={"PYTHONPATH": str(site)})
    assert (out.returncode, out.stdout) == (0, b"ran\n"), out
    assert time.monotonic() - started < 6, "waited for a server that had ended"


def test_prestart_starts_the_server_without_waiting_and_once(warm, short_tmp):
    warm_python.prestart()  # TMPDIR is short_tmp here (the fixture)
    deadline = time.monotonic() + 10
    while not served(short_tmp) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert served(short_tmp)
    warm_python.prestart()  # it answers: nothing started again
    servers = [p for p in os.listdir("/proc") if p.isdigit() and _serves(p, short_tmp)]
    assert len(servers) == 1, servers
    assert run(warm, stdin=b"print('ok')\n").stdout == b"ok\n"


def _serves(pid, folder):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return False
    return b"--serve" in argv and any(arg.startswith(str(folder).encode()) for arg in argv)


def _zip_with(path, source):
    import zipfile  # pylint: disable=import-outside-toplevel
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("pkgz/__init__.py", "")
        archive.writestr("pkgz/mod.py", source)


def test_a_payloads_files_are_compiled_once_and_a_changed_one_anew(warm, short_tmp, tmp_path):
    import marshal  # pylint: disable=import-outside-toplevel
    payload = tmp_path / "payload.zip"
    script = ("import sys; sys.path.insert(0, %r)\nfrom pkgz import mod\nprint(mod.VALUE, mod.where.__code__.co_filename)\n"
              % str(payload)).encode()
    _zip_with(payload, "VALUE = 'compiled'\ndef where():\n    pass\n")
    first = run(warm, stdin=script)
    assert first.stdout == b"compiled pkgz/mod.py\n", first.stderr
    folder = os.path.join(str(short_tmp), "lomashwood-warm-%d" % os.getuid())
    caches = [name for name in os.listdir(folder) if name.startswith("code-")]
    assert len(caches) == 1 and stat.S_IMODE(os.stat(os.path.join(folder, caches[0])).st_mode) == 0o700
    entries = os.listdir(os.path.join(folder, caches[0]))
    assert len(entries) == 2  # the package's __init__ and mod
    # The next module takes the kept code: an entry made to say so proves it is read, not compiled again.
    for name in entries:
        path = os.path.join(folder, caches[0], name)
        with open(path, "rb") as handle:
            code = marshal.loads(handle.read())
        if "VALUE" in code.co_names:
            with open(path, "wb") as handle:
                handle.write(marshal.dumps(compile("VALUE = 'kept'\ndef where():\n    pass\n", "pkgz/mod.py", "exec")))
    assert run(warm, stdin=script).stdout == b"kept pkgz/mod.py\n"
    # A payload whose file changed is compiled anew (its source has another hash).
    _zip_with(payload, "VALUE = 'changed'\ndef where():\n    pass\n")
    assert run(warm, stdin=script).stdout == b"changed pkgz/mod.py\n"
    # Cold, nothing of it: compiled from the zip, named by the zip's path.
    cold = run(warm, stdin=script, env={"LOMASHWOOD_WARM_PYTHON": "0"})
    assert cold.stdout == ("changed %s/pkgz/mod.py\n" % payload).encode()
