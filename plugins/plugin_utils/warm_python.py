# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A warm Python for the modules a playbook runs on its controller (connection local).

Every module task starts a new interpreter, which imports ansible's module_utils (compiled from the
payload's zip each time), boto3 and botocore before the module does anything: ~0.3 s of CPU a
task, ~30 module tasks in a failover, on its critical path. With `ansible_python_interpreter` set to
`lookup('lomashwood.multiregion.warm_python')`, ansible runs its usual payload (AnsiballZ, on stdin
when pipelining) with this script as the interpreter. The script (the client, run with -S -E, so it
starts in ~10 ms) hands the payload's argv, environment, working directory and its stdin, stdout
and stderr (the file descriptors themselves) to a server that has those libraries imported; the
server forks, and the child runs the payload as `python` would, writing straight to ansible's
pipes. The child's exit code comes back to the client, which exits with it.

What keeps it as safe as a cold interpreter:
- one server per user, network namespace, interpreter and PYTHONPATH/PYTHONHOME (a socket in a
  0700 directory of the user's); a server whose libraries changed on disk since it started refuses
  the next request and exits;
- anything that fails before the payload is handed over makes the client run it itself with the
  real interpreter (exec), as without this script; LOMASHWOOD_WARM_PYTHON=0 always does;
- the child is in a session of its own and watches the client's connection: when the client dies
  (ansible killed, a task timeout), the child kills its process group, as a module dies with its
  interpreter; once the module has ended, nothing is killed (a process it left running stays, as
  it would);
- the child resets what the server changed (SIGCHLD) and runs the exit handlers, and non-daemon
  threads are joined, as at an interpreter's exit; the server exits after IDLE_SECONDS unused.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys

IDLE_SECONDS = 600
PRELOAD = ("json", "concurrent.futures", "datetime", "uuid", "boto3", "boto3.session", "botocore.session",
           "botocore.client", "botocore.parsers", "botocore.endpoint", "botocore.auth", "botocore.httpsession",
           "botocore.retries.standard", "botocore.credentials", "botocore.regions", "urllib3",
           "ansible.module_utils.basic", "ansible.module_utils.common.text.converters",
           "ansible.module_utils.six", "yaml", "kubernetes.client", "kubernetes.config")
# Files whose change (an upgrade) makes a running server stale: each preloaded package's own file.
WATCHED = ("boto3", "botocore", "ansible", "ansible.module_utils.basic", "urllib3", "kubernetes", "yaml")
# The services whose models the server reads once for every module (botocore reads a service's JSON
# model for each new session: ~60 ms for RDS, most of a warm module's run).
SERVICES = ("rds", "s3", "route53", "ssm", "sts", "iam", "elasticache", "eks", "elbv2", "cloudwatch", "kms")
VERSION = "1"  # of this protocol: a client and server of different versions never meet (it is in the key)


# ---- the client ---------------------------------------------------------------------------------

def _folder():
    """This user's own directory for the servers' sockets and the launchers; None when it is not safely
    the user's alone (another owner, other permissions, a link)."""
    base = os.environ.get("TMPDIR") or "/tmp"
    if len(base) > 60:  # a Unix socket's path is at most 107 bytes
        base = "/tmp"
    folder = os.path.join(base, "lomashwood-warm-%d" % os.getuid())
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    st = os.lstat(folder)
    if st.st_uid != os.getuid() or st.st_mode & 0o077 or not os.path.isdir(folder) or os.path.islink(folder):
        return None
    return folder


def _digest(*parts):
    import hashlib  # pylint: disable=import-outside-toplevel
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:20]


def _socket_path():
    """This user's, network namespace's, interpreter's and path settings' socket, or None."""
    try:
        netns = os.readlink("/proc/self/ns/net")
    except OSError:
        netns = ""
    folder = _folder()
    if folder is None:
        return None
    key = _digest(VERSION, str(os.getuid()), netns, sys.executable, os.environ.get("PYTHONPATH", ""),
                  os.environ.get("PYTHONHOME", ""), os.path.abspath(__file__))
    return os.path.join(folder, key + ".sock")


def launcher(python):
    """The path of an executable that runs this client with `python` (ansible takes the interpreter
    setting as one path): a script whose first line is `#!<python> -ES`. Made once, in the user's own
    directory; None when that directory is not safe, or the line would be too long for the kernel."""
    folder = _folder()
    here = os.path.abspath(__file__)
    first = "#!%s -ES\n" % python
    if folder is None or len(first) > 250 or "\n" in python or " " in python:
        return None
    path = os.path.join(folder, "python-%s" % _digest(VERSION, python, here))
    text = first + ("import sys\nsys.path.insert(0, %r)\nimport warm_python\nwarm_python.client(sys.argv[1:])\n"
                    % os.path.dirname(here))
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return path
    except OSError:
        pass
    staging = "%s.%d" % (path, os.getpid())
    with open(staging, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(staging, 0o700)
    os.rename(staging, path)
    return path


def _connect(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    return sock


def _start_server(path):
    import subprocess  # pylint: disable=import-outside-toplevel
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", path],  # pylint: disable=consider-using-with
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, close_fds=True)


def _warm_connection(path):
    """A connection to the server, started if none answers; None if none answers soon."""
    sock = _connect(path)
    if sock is None:
        import time  # pylint: disable=import-outside-toplevel
        server = _start_server(path)
        deadline = time.monotonic() + 10
        while sock is None and time.monotonic() < deadline:
            time.sleep(0.02)
            sock = _connect(path)
            if sock is None and server.poll() is not None:
                # It ended: another server was starting (it holds the lock), or it failed; a short wait for
                # the other, then this module runs cold rather than wait on nothing.
                deadline = min(deadline, time.monotonic() + 2)
    return sock


def prestart():
    """Start this interpreter's server if none answers, without waiting for it: the progress callback calls
    this as a play starts, so the server loads while the first tasks run and the first module finds it
    ready. Never fails."""
    try:
        if os.environ.get("LOMASHWOOD_WARM_PYTHON", "1") == "0":
            return
        path = _socket_path()
        sock = _connect(path) if path else None
        if sock is not None:
            sock.close()
        elif path:
            _start_server(path)
    except Exception:  # pylint: disable=broad-except
        pass


def _cold(argv):
    """Run the payload with the real interpreter, as without this script."""
    os.execv(sys.executable, [sys.executable] + argv)


def _read_line(sock):
    data = b""
    while not data.endswith(b"\n"):
        try:
            chunk = sock.recv(64)
        except InterruptedError:
            continue
        if not chunk:
            return None
        data += chunk
    return data.decode().strip()


def client(argv):
    if os.environ.get("LOMASHWOOD_WARM_PYTHON", "1") == "0" or (argv and argv[0].startswith("-")):
        _cold(argv)  # switched off, or interpreter options (-c, -m, ...): only scripts and stdin are served
    try:
        path = _socket_path()
        sock = _warm_connection(path) if path else None
    except Exception:  # pylint: disable=broad-except
        sock = None  # whatever it was, the module still runs
    if sock is None:
        _cold(argv)
    request = json.dumps(dict(argv=argv, env=dict(os.environ), cwd=os.getcwd(), umask=_umask())).encode(
        "utf-8", "surrogateescape")
    try:
        socket.send_fds(sock, [struct.pack("!I", len(request)) + request], [0, 1, 2])
        answer = _read_line(sock)
    except OSError:
        answer = None
    if answer != "started":  # refused (stale) or gone before it forked: nothing of the payload was read
        sock.close()
        _cold(argv)
    status = _read_line(sock)  # the child's exit code, once the payload has run
    if status is None:
        sys.stderr.write("warm_python: the module's process ended without an exit status\n")
        sys.exit(1)
    sys.exit(int(status))


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# ---- the server ---------------------------------------------------------------------------------

def _watched_files():
    found = {os.path.abspath(__file__): os.stat(os.path.abspath(__file__)).st_mtime_ns}
    for name in WATCHED:
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        if path:
            try:
                found[path] = os.stat(path).st_mtime_ns
            except OSError:
                pass
    return found


def _stale(files):
    for path, mtime in files.items():
        try:
            if os.stat(path).st_mtime_ns != mtime:
                return True
        except OSError:
            return True
    return False


class _Paths(list):
    """A loader's search paths, each once: boto3 adds its data path for every session it makes."""

    def append(self, path):
        if path not in self:
            super().append(path)


def _share_botocore_models():
    """One botocore Loader for every session of every module this server runs, with the SERVICES'
    models read into it already: a loader only reads and caches the JSON files of the installed
    botocore and boto3 (a change to them makes the server stale), so what a module gets is what its
    own loader would have read. A session with its own AWS_DATA_PATH gets its own loader, as always."""
    try:
        import boto3.session  # pylint: disable=import-outside-toplevel
        import botocore.loaders  # pylint: disable=import-outside-toplevel
        import botocore.session  # pylint: disable=import-outside-toplevel
    except ImportError:
        return
    shared = botocore.loaders.Loader()
    shared._search_paths = _Paths(shared._search_paths)  # pylint: disable=protected-access
    make = botocore.loaders.create_loader

    def create_loader(search_path_string=None):
        return shared if search_path_string is None else make(search_path_string)

    botocore.session.create_loader = create_loader
    # Clients made here read the models; placeholder keys, so no credential lookup (nor any call) happens.
    session = boto3.session.Session(aws_access_key_id="warm", aws_secret_access_key="warm", region_name="eu-west-1")
    for service in SERVICES:
        try:
            session.client(service)
        except Exception:  # pylint: disable=broad-except
            pass


def _cache_compiled_sources(folder):
    """Compile each module_util a payload brings once, not at every module: a payload's files are imported
    from its zip (zipimport compiles their source each time, ~30 ms a module). A compiled file is kept in
    this user's folder under the hash of its path in the zip and its source, for this interpreter's bytecode
    version, so a changed file is compiled anew and what runs is always what the payload holds. Their code
    names the file by its path inside the payload (e.g. ansible_collections/amazon/aws/plugins/module_utils/
    botocore.py), not by the payload's temporary zip."""
    import hashlib  # pylint: disable=import-outside-toplevel
    import importlib.util  # pylint: disable=import-outside-toplevel
    import marshal  # pylint: disable=import-outside-toplevel
    import zipimport  # pylint: disable=import-outside-toplevel

    compile_source = getattr(zipimport, "_compile_source", None)
    if compile_source is None:
        return
    cache = os.path.join(folder, "code-" + importlib.util.MAGIC_NUMBER.hex())
    try:
        os.mkdir(cache, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return

    def cached(pathname, source):
        inner = pathname.replace(os.sep, "/").split(".zip/", 1)[-1]
        entry = os.path.join(cache, hashlib.sha256(inner.encode("utf-8", "surrogateescape") + b"\0" + source).hexdigest())
        try:
            with open(entry, "rb") as handle:
                return marshal.loads(handle.read())
        except (OSError, ValueError, EOFError, TypeError):
            pass
        code = compile_source(inner, source)
        temp = "%s.%d" % (entry, os.getpid())
        try:
            with open(temp, "wb") as handle:
                handle.write(marshal.dumps(code))
            os.replace(temp, entry)
        except OSError:
            pass
        return code

    zipimport._compile_source = cached  # pylint: disable=protected-access


def _receive(conn):
    data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
    if len(fds) != 3 or len(data) < 4:
        raise OSError("a request without its stdin, stdout and stderr")
    size = struct.unpack("!I", data[:4])[0]
    data = data[4:]
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise OSError("a request cut short")
        data += chunk
    return json.loads(data.decode("utf-8", "surrogateescape")), fds


def serve(path):
    import fcntl  # pylint: disable=import-outside-toplevel
    import importlib  # pylint: disable=import-outside-toplevel
    import signal  # pylint: disable=import-outside-toplevel

    lock = open(path + ".lock", "w")  # pylint: disable=consider-using-with,unspecified-encoding
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # another server has it, or is starting
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # pylint: disable=broad-except
            pass  # not installed here: a module that needs it imports it, as cold
    _share_botocore_models()
    _cache_compiled_sources(os.path.dirname(path))
    files = _watched_files()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    staging = "%s.%d" % (path, os.getpid())
    listener.bind(staging)
    listener.listen(64)
    os.rename(staging, path)
    listener.settimeout(IDLE_SECONDS)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    try:
        while True:
            try:
                conn, _addr = listener.accept()
            except socket.timeout:
                return
            conn.settimeout(None)
            try:
                request, fds = _receive(conn)
            except (OSError, ValueError):
                conn.close()
                continue
            if _stale(files):
                conn.close()  # the client runs it cold, and the next one starts a new server
                for fd in fds:
                    os.close(fd)
                return
            if os.fork() == 0:
                listener.close()
                _child(conn, request, fds)  # never returns
            conn.close()
            for fd in fds:
                os.close(fd)
    finally:
        try:
            if os.stat(path).st_ino == os.fstat(listener.fileno()).st_ino:
                os.unlink(path)
        except OSError:
            pass
        listener.close()


def _child(conn, request, fds):
    import signal  # pylint: disable=import-outside-toplevel
    import threading  # pylint: disable=import-outside-toplevel

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = open(0, "r", closefd=False, encoding="utf-8", errors="surrogateescape")  # pylint: disable=consider-using-with
    sys.stdout = open(1, "w", closefd=False, encoding="utf-8", errors="surrogateescape")  # pylint: disable=consider-using-with
    sys.stderr = open(2, "w", closefd=False, encoding="utf-8", errors="backslashreplace")  # pylint: disable=consider-using-with
    os.environ.clear()
    os.environ.update(request["env"])
    os.umask(request["umask"])
    done = threading.Event()

    def watch():  # the client gone while the module runs: the module goes with it
        try:
            conn.recv(1)
        except OSError:
            pass
        if not done.is_set():
            os.killpg(0, signal.SIGKILL)

    rc = 1
    ours = os.getpid()
    # A process the script forks (async_wrapper daemonizes) is not the module's interpreter: it
    # neither holds the connection nor reports an exit code; it exits as it would under python.
    os.register_at_fork(after_in_child=conn.close)
    try:
        os.chdir(request["cwd"])
        conn.sendall(b"started\n")
        threading.Thread(target=watch, daemon=True).start()
        rc = _run(request["argv"])
    finally:
        if os.getpid() == ours:
            done.set()
            try:
                sys.stdout.flush()
                sys.stderr.flush()
                conn.sendall(b"%d\n" % rc)
            except OSError:
                pass
        else:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
        os._exit(rc)  # pylint: disable=protected-access


def _run(argv):
    """Run the script (a path, or stdin for '' or '-') as __main__, as the interpreter would; its exit code."""
    import atexit  # pylint: disable=import-outside-toplevel
    import threading  # pylint: disable=import-outside-toplevel
    import traceback  # pylint: disable=import-outside-toplevel
    import types  # pylint: disable=import-outside-toplevel

    main = types.ModuleType("__main__")
    if argv and argv[0] not in ("", "-"):
        name = argv[0]
        with open(name, "rb") as handle:
            source = handle.read()
        main.__file__ = name
        sys.path.insert(0, os.path.dirname(os.path.abspath(name)))
        sys.argv = list(argv)
    else:
        name = "<stdin>"
        source = sys.stdin.buffer.read()
        sys.path.insert(0, "")
        sys.argv = [""] + list(argv[1:])
    sys.modules["__main__"] = main
    try:
        exec(compile(source, name, "exec"), main.__dict__)  # pylint: disable=exec-used
        rc = 0
    except SystemExit as exc:
        rc = _exit_code(exc.code)
    except BaseException as exc:  # pylint: disable=broad-except
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)  # from the script's frame on
        rc = 1
    try:  # as an interpreter's exit: wait for non-daemon threads, run the exit handlers
        threading._shutdown()  # pylint: disable=protected-access
    except Exception:  # pylint: disable=broad-except
        pass
    atexit._run_exitfuncs()  # pylint: disable=protected-access
    return rc


def _exit_code(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    sys.stderr.write("%s\n" % (code,))
    return 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2])
    else:
        client(sys.argv[1:])
