"""Two real Kubernetes 1.20 control planes on 127.0.0.1, one per region, with simulated nodes.

Each region gets its own etcd, kube-apiserver, kube-controller-manager and kube-scheduler (built
by tests/k8s/build.sh) plus one node simulator (tests/k8s/nodesim.py) instead of a kubelet.
Everything binds 127.0.0.1; run it inside `unshare -n` (loopback only) for tests and demos.

    python -m tests.k8s.cluster start  --run-dir DIR   # prints KUBECONFIG=DIR/kubeconfig
    python -m tests.k8s.cluster status --run-dir DIR
    python -m tests.k8s.cluster knobs  --run-dir DIR --region eu-west-2 --pod-start-delay 2
    python -m tests.k8s.cluster stop   --run-dir DIR
    python -m tests.k8s.cluster writes --run-dir DIR   # clients' writes since the start, counted

Python: start(run_dir) -> info dict (also DIR/cluster.json), stop(run_dir), status(run_dir),
set_knobs(run_dir, region, ...), and the context manager running(run_dir).

Each apiserver writes an audit log of the mutating requests of clients (not the control plane's
own, not the node simulator's) to DIR/<region>/audit.log: audit_mark(run_dir) notes where the logs
end, mutating_requests(run_dir, mark) counts the writes since ({"k8s:eu-west-2:patch
deployments/scale": 1}), audit_events(run_dir, mark) lists them.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

REGIONS = ("eu-west-1", "eu-west-2")
CONTEXT_PREFIX = "lomash-wood-"
SERVICE_CIDR = "10.0.0.0/24"  # never routed: no kube-proxy, and the run has loopback only
NODESIM = Path(__file__).with_name("nodesim.py")
NODESIM_CONFIGMAP = ("kube-system", "nodesim-config")
# SIGTERM'd processes get this long before SIGKILL.
STOP_GRACE = 5.0

# --- who wrote what: identities and the audit log ---------------------------------------------------
# Every component has a user of its own, all in system:masters as the one admin user was before
# (so what each may do, and API priority and fairness, are unchanged): the audit policy can then
# leave out the control plane's own writes and the node simulator's (the kubelet's part) by user.
# A client's writes are everything else, admin's in particular (tests, seed, the modules).
ADMIN_USER = "admin"
COMPONENT_USERS = {"kube-controller-manager": "system:kube-controller-manager",
                   "kube-scheduler": "system:kube-scheduler",
                   "nodesim": "lomashwood:nodesim"}
# The apiserver's loopback client (bootstrap RBAC, priority levels, ...) is system:apiserver.
CONTROL_PLANE_USERS = ("system:apiserver", *COMPONENT_USERS.values())
# Sent by nodesim.py (nodesim.USER_AGENT): its writes are left out even when it was started by hand
# with the admin kubeconfig.
NODESIM_USER_AGENT = "lomashwood-nodesim/"
MUTATING_VERBS = ("create", "update", "patch", "delete", "deletecollection")
# "create"s that persist nothing: TokenReview, SubjectAccessReview & co.
REVIEW_GROUPS = ("authentication.k8s.io", "authorization.k8s.io")
# lumberjack rotates audit.log to audit-<time>.log at this size and keeps this many: at most
# 60 MB per region however long the cluster runs (a test run writes well under 1 MB).
AUDIT_LOG_MAX_MB, AUDIT_LOG_BACKUPS = 20, 2
AUDIT_POLICY = f"""\
# Written by tests/k8s/cluster.py: the mutating requests of clients, at Metadata level (who, what,
# which object, response code; no bodies). First matching rule wins.
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
# The control plane's own writes, and the node simulator's (it plays the kubelet).
- level: None
  users: {json.dumps(list(CONTROL_PLANE_USERS))}
# Reviews are creates that change nothing.
- level: None
  resources: {json.dumps([{"group": g} for g in REVIEW_GROUPS])}
- level: Metadata
  verbs: {json.dumps(list(MUTATING_VERBS))}
# Reads and watches: not logged.
- level: None
"""


class ClusterError(RuntimeError):
    pass


def cache_dir() -> Path:
    return Path(os.environ.get("LOMASHWOOD_CACHE", Path.home() / ".cache/lomashwood-multiregion")) / "k8s"


def bin_dir() -> Path:
    """Where build.sh cached the binaries; LOMASHWOOD_K8S_BIN overrides."""
    d = Path(os.environ.get("LOMASHWOOD_K8S_BIN", cache_dir() / "bin"))
    for b in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        if not os.access(d / b, os.X_OK):
            raise ClusterError(f"{d / b} missing: run tests/k8s/build.sh first")
    return d


# --- small helpers -------------------------------------------------------------------------------

def _free_ports(n: int) -> list[int]:
    # Hold all sockets open until every port is chosen so the n ports are distinct.
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def _make_pki(pki: Path, region: str) -> None:
    """CA, apiserver serving cert and service-account key pair (EC P-256: fast to generate)."""
    pki.mkdir(parents=True, exist_ok=True)
    ec = ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"]
    for key in ("ca.key", "apiserver.key", "sa.key"):
        _openssl(*ec, key, cwd=pki)
    _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)
    _openssl("req", "-x509", "-new", "-key", "ca.key", "-out", "ca.crt", "-days", "3650",
             "-subj", f"/CN=lomash-wood-{region}-ca",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=pki)
    (pki / "apiserver.ext").write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\n"
        "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,"
        "DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n")
    _openssl("req", "-new", "-key", "apiserver.key", "-out", "apiserver.csr",
             "-subj", "/CN=kube-apiserver", cwd=pki)
    _openssl("x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "apiserver.crt", "-days", "3650",
             "-extfile", "apiserver.ext", cwd=pki)


def _kubeconfig(entries: list[tuple[str, str, str, str]]) -> dict:
    """entries: (name, server, ca_file, token); clusters, users and contexts all share the name."""
    cfg = {"apiVersion": "v1", "kind": "Config", "preferences": {},
           "clusters": [], "users": [], "contexts": [], "current-context": entries[0][0]}
    for name, server, ca_file, token in entries:
        ca = base64.b64encode(Path(ca_file).read_bytes()).decode()
        cfg["clusters"].append({"name": name, "cluster": {"server": server,
                                                          "certificate-authority-data": ca}})
        cfg["users"].append({"name": name, "user": {"token": token}})
        cfg["contexts"].append({"name": name, "context": {"cluster": name, "user": name}})
    return cfg


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


def _start_time(pid: int) -> str | None:
    """The process start time (clock ticks since boot): tells our pid from a recycled one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie is as good as gone
        return None
    return fields[19]


def _alive(proc: dict) -> bool:
    return _start_time(proc["pid"]) == proc["start_time"]


# Popen objects of processes this Python process started: reaped in stop() so no zombies remain.
_children: dict[int, subprocess.Popen] = {}


def _spawn(name: str, cmd: list[str], log: Path, env: dict | None = None) -> dict:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        # A new session per process: stop() can kill the whole group, and a Ctrl-C in the
        # caller's terminal does not half-kill the cluster.
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True, env=env)
    _children[p.pid] = p
    return {"name": name, "pid": p.pid, "pgid": p.pid, "start_time": _start_time(p.pid),
            "log": str(log), "cmd": cmd}


def _tail(path: str, n: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


class _Api:
    """Just enough HTTPS to drive an apiserver without importing the kubernetes client.

    One kept-alive connection (not thread-safe): a TLS handshake per call would cost more than
    the call.
    """

    def __init__(self, server: str, ca_file: str, token: str):
        self.server, self.token = server, token
        self.ctx = ssl.create_default_context(cafile=ca_file)
        u = urllib.parse.urlsplit(server)
        self.host, self.port = u.hostname, u.port
        self.conn: http.client.HTTPSConnection | None = None

    def request(self, method: str, path: str, body: dict | None = None,
                content_type: str = "application/json", timeout: float = 5) -> tuple[int, dict | str]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                   "Content-Type": content_type}
        for attempt in (1, 2):
            # Retry once, and only on a reused connection: the server may have closed it idle.
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                                        timeout=timeout)
            try:
                self.conn.timeout = timeout
                if self.conn.sock:
                    self.conn.sock.settimeout(timeout)
                self.conn.request(method, path, data, headers)
                r = self.conn.getresponse()
                code, raw = r.status, r.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 2 or not reused:
                    raise
        try:
            return code, json.loads(raw)
        except ValueError:
            return code, raw.decode(errors="replace")


def _wait(what: str, check, procs: list[dict], deadline: float, interval: float = 0.1):
    """Poll check() until truthy; fail early, with the log tail, if one of procs has died."""
    while True:
        for p in procs:
            if not _alive(p):
                raise ClusterError(f"{p['name']} exited while waiting for {what}; "
                                   f"{p['log']}:\n{_tail(p['log'])}")
        try:
            result = check()
        except (OSError, ssl.SSLError, ValueError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise ClusterError(f"timed out waiting for {what}")
        time.sleep(interval)


# --- state file ------------------------------------------------------------------------------------

def _state_path(run_dir: Path) -> Path:
    return Path(run_dir) / "cluster.json"


def _save(run_dir: Path, info: dict) -> None:
    # Written after every process start, so a crashed start can still be stopped.
    tmp = _state_path(run_dir).with_suffix(".tmp")
    _write_private(tmp, json.dumps(info, indent=2))
    tmp.replace(_state_path(run_dir))


def _load(run_dir: Path) -> dict | None:
    try:
        return json.loads(_state_path(run_dir).read_text())
    except (OSError, ValueError):
        return None


def _all_procs(info: dict) -> list[dict]:
    return [p for r in info.get("regions", {}).values() for p in r.get("processes", {}).values()]


# --- start / stop / status -----------------------------------------------------------------------

def start(run_dir: str | os.PathLike, regions=REGIONS, nodes: int = 3, pod_start_delay: float = 0.0,
          hold: list[str] | None = None, nodesim: bool = True, timeout: float = 120.0,
          verbose: bool = True) -> dict:
    """Start one control plane (and node simulator) per region; return the cluster.json dict.

    Returns {"run_dir", "kubeconfig", "started_seconds", "regions": {region: {"context",
    "server", "ca_file", "token", "ports", "processes", "nodes"}}}.  On any failure everything
    already started is stopped before the exception propagates.
    """
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    if len(str(run_dir)) > 60:  # etcd/apiserver unix sockets and log paths must stay < 108 bytes
        raise ClusterError(f"run dir path too long ({len(str(run_dir))} chars): {run_dir}")
    old = _load(run_dir)
    if old and any(_alive(p) for p in _all_procs(old)):
        raise ClusterError(f"a cluster is already running in {run_dir}; stop it first")
    stop(run_dir, quiet=True)  # clears a stale state file

    t0 = time.monotonic()
    deadline = t0 + timeout
    bins = bin_dir()
    say = (lambda m: print(f"[cluster {time.monotonic() - t0:5.1f}s] {m}", flush=True)) if verbose \
        else (lambda m: None)
    for attempt in (1, 2):
        info: dict = {"run_dir": str(run_dir), "kubeconfig": str(run_dir / "kubeconfig"),
                      "regions": {}}
        try:
            _start(run_dir, list(regions), bins, nodes, pod_start_delay, hold or [], nodesim,
                   info, deadline, say)
            break
        except BaseException as e:
            say("start failed; stopping what was started")
            stop(run_dir, quiet=True)
            # A "free" port can be taken by someone else before our server binds it: retry once.
            if attempt == 1 and isinstance(e, ClusterError) and "address already in use" in str(e):
                say("a port was taken meanwhile; retrying with new ports")
                continue
            raise
    info["started_seconds"] = round(time.monotonic() - t0, 2)
    _save(run_dir, info)
    say(f"ready in {info['started_seconds']} s; export KUBECONFIG={info['kubeconfig']}")
    return info


def _start(run_dir, regions, bins, nodes, pod_start_delay, hold, nodesim, info, deadline, say):
    # Each phase is started for every region before waiting, so the regions boot in parallel.
    apis = {}
    ports = iter(_free_ports(3 * len(regions)))  # chosen together, so all distinct
    for region in regions:
        rdir = run_dir / region
        if rdir.exists():
            shutil.rmtree(rdir)
        (rdir / "logs").mkdir(parents=True)
        _make_pki(rdir / "pki", region)
        etcd_port, peer_port, api_port = next(ports), next(ports), next(ports)
        token = secrets.token_hex(16)
        component_tokens = {name: secrets.token_hex(16) for name in COMPONENT_USERS}
        _write_private(rdir / "pki/tokens.csv", "".join(
            f'{t},{user},{user},"system:masters"\n' for t, user in
            [(token, ADMIN_USER)] + [(component_tokens[n], u) for n, u in COMPONENT_USERS.items()]))
        (rdir / "audit-policy.yaml").write_text(AUDIT_POLICY)
        server = f"https://127.0.0.1:{api_port}"
        r = info["regions"][region] = {
            "context": CONTEXT_PREFIX + region, "server": server,
            "ca_file": str(rdir / "pki/ca.crt"), "token": token,
            "ports": {"etcd": etcd_port, "etcd_peer": peer_port, "apiserver": api_port},
            "processes": {}, "nodes": []}
        # One-context kubeconfigs: admin's, and one per component with its own user.
        _write_private(rdir / "admin.kubeconfig", json.dumps(
            _kubeconfig([(r["context"], server, r["ca_file"], token)])))
        for name, t in component_tokens.items():
            _write_private(rdir / f"{name}.kubeconfig", json.dumps(
                _kubeconfig([(r["context"], server, r["ca_file"], t)])))
        apis[region] = _Api(server, r["ca_file"], token)
    _write_private(run_dir / "kubeconfig", json.dumps(_kubeconfig(
        [(r["context"], r["server"], r["ca_file"], r["token"]) for r in info["regions"].values()]),
        indent=2))

    def procs(region):
        return list(info["regions"][region]["processes"].values())

    def launch(region, name, cmd, env=None):
        p = _spawn(name, cmd, run_dir / region / "logs" / f"{name}.log", env)
        info["regions"][region]["processes"][name] = p
        _save(run_dir, info)

    # etcd
    for region in regions:
        r, rdir = info["regions"][region], run_dir / region
        client = f"http://127.0.0.1:{r['ports']['etcd']}"
        peer = f"http://127.0.0.1:{r['ports']['etcd_peer']}"
        launch(region, "etcd", [
            str(bins / "etcd"), "--name", region, "--data-dir", str(rdir / "etcd"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"{region}={peer}", "--initial-cluster-state", "new",
            "--logger", "zap", "--log-level", "warn"])
    for region in regions:
        url = f"http://127.0.0.1:{info['regions'][region]['ports']['etcd']}/health"
        _wait(f"etcd {region}", lambda: json.loads(urllib.request.urlopen(url, timeout=2).read())
              .get("health") == "true", procs(region), deadline)
    say("etcd up")

    # kube-apiserver
    for region in regions:
        r, pki = info["regions"][region], run_dir / region / "pki"
        launch(region, "kube-apiserver", [
            str(bins / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{r['ports']['etcd']}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={r['ports']['apiserver']}", "--insecure-port=0",
            f"--tls-cert-file={pki}/apiserver.crt", f"--tls-private-key-file={pki}/apiserver.key",
            f"--client-ca-file={pki}/ca.crt", f"--token-auth-file={pki}/tokens.csv",
            "--authorization-mode=RBAC", "--anonymous-auth=false",
            f"--service-account-key-file={pki}/sa.pub",
            f"--service-account-signing-key-file={pki}/sa.key",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--endpoint-reconciler-type=none", "--allow-privileged=true",
            # Blocking: a request's event is in the file before its response is complete.
            f"--audit-policy-file={run_dir / region}/audit-policy.yaml",
            f"--audit-log-path={audit_log(run_dir, region)}", "--audit-log-format=json",
            "--audit-log-mode=blocking", f"--audit-log-maxsize={AUDIT_LOG_MAX_MB}",
            f"--audit-log-maxbackup={AUDIT_LOG_BACKUPS}",
            "--profiling=false", "--v=1"])
    for region in regions:
        api = apis[region]
        _wait(f"kube-apiserver {region} /readyz",
              lambda: api.request("GET", "/readyz")[0] == 200, procs(region), deadline, 0.2)
    say("kube-apiservers ready")

    # controller-manager and scheduler: no serving ports, no leader election, a fast client.
    fast = ["--kube-api-qps=200", "--kube-api-burst=300", "--leader-elect=false",
            "--port=0", "--secure-port=0", "--v=1"]
    for region in regions:
        rdir = run_dir / region
        launch(region, "kube-controller-manager", [
            str(bins / "kube-controller-manager"),
            f"--kubeconfig={rdir}/kube-controller-manager.kubeconfig", *fast,
            f"--service-account-private-key-file={rdir}/pki/sa.key",
            f"--root-ca-file={rdir}/pki/ca.crt",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10",
            "--concurrent-service-syncs=2"])
        launch(region, "kube-scheduler", [str(bins / "kube-scheduler"),
                                          f"--kubeconfig={rdir}/kube-scheduler.kubeconfig", *fast])

    # 1.20 refuses pods in a namespace until its default ServiceAccount has a token Secret.
    def default_token(api):
        code, body = api.request(
            "GET", "/api/v1/namespaces/default/secrets?fieldSelector=" +
            urllib.parse.quote("type=kubernetes.io/service-account-token"))
        return code == 200 and any(
            s["metadata"].get("annotations", {}).get("kubernetes.io/service-account.name")
            == "default" for s in body.get("items", []))
    for region in regions:
        api = apis[region]
        _wait(f"default ServiceAccount token in {region}", lambda: default_token(api),
              procs(region), deadline, 0.2)
    say("controller-managers and schedulers up (default ServiceAccount token exists)")

    if not nodesim:
        return
    # Seed the simulator's knobs before it starts, so it never runs with other values.
    for region in regions:
        set_knobs(run_dir, region, pod_start_delay=pod_start_delay, hold=hold, _info=info)
    for region in regions:
        r, rdir = info["regions"][region], run_dir / region
        ready = rdir / "nodesim.ready"
        ready.unlink(missing_ok=True)
        names = [f"{region}-node-{i}" for i in range(nodes)]
        r["nodes"] = names
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        launch(region, "nodesim", [
            sys.executable, str(NODESIM), "--kubeconfig", str(rdir / "nodesim.kubeconfig"),
            "--context", r["context"], "--nodes", str(nodes), "--node-prefix", f"{region}-node",
            "--region", region, "--pod-start-delay", str(pod_start_delay),
            *[a for h in hold for a in ("--hold", h)],
            "--ready-file", str(ready)], env)
    for region in regions:
        ready = run_dir / region / "nodesim.ready"
        _wait(f"{nodes} simulated nodes Ready and untainted in {region}", ready.exists,
              procs(region), deadline, 0.1)
    say(f"node simulators ready ({nodes} nodes per region)")


def _signal_group(p: dict, sig: int) -> None:
    # Only signal a group whose leader is still the very process we started.
    if _alive(p):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p["pgid"], sig)


def _reap() -> None:
    for pid, popen in list(_children.items()):
        if popen.poll() is not None:
            del _children[pid]


def stop(run_dir: str | os.PathLike, quiet: bool = False) -> list[str]:
    """Stop every process start() recorded in run_dir (whole process groups); safe to repeat.

    Returns the names of processes that were still running.
    """
    run_dir = Path(run_dir)
    info = _load(run_dir)
    if not info:
        return []
    running = [(r, p) for r, reg in info.get("regions", {}).items()
               for p in reg.get("processes", {}).values() if _alive(p)]
    # etcd last, so the apiservers do not spend their shutdown retrying a vanished etcd.
    for phase in ([p for _, p in running if p["name"] != "etcd"],
                  [p for _, p in running if p["name"] == "etcd"]):
        for p in phase:
            _signal_group(p, signal.SIGTERM)
            _signal_group(p, signal.SIGCONT)  # a stopped (frozen) process must see the TERM
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline and any(_alive(p) for p in phase):
            _reap()
            time.sleep(0.02)
        for p in phase:
            _signal_group(p, signal.SIGKILL)
    # SIGKILL also the rest of each group (children that outlived their leader).
    for p in _all_procs(info):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if _group_is_ours(p):
                os.killpg(p["pgid"], signal.SIGKILL)
    _reap()
    names = [f"{r}/{p['name']}" for r, p in running]
    _state_path(run_dir).unlink(missing_ok=True)
    if not quiet:
        print(f"stopped {len(names)} processes" + (f": {', '.join(names)}" if names else ""))
    return names


def _group_is_ours(p: dict) -> bool:
    """True if some live process is still in the group, which we created with our session."""
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # fields[2] is the pgid, fields[3] the session id: both equal our leader's pid.
            if int(fields[2]) == p["pgid"] and int(fields[3]) == p["pgid"] and fields[0] != "Z":
                return True
    return False


def status(run_dir: str | os.PathLike) -> dict:
    """{region: {"processes": {name: alive}, "ready": apiserver /readyz ok, "nodes": n Ready}}."""
    info = _load(Path(run_dir))
    if not info:
        return {}
    out = {}
    for region, r in info["regions"].items():
        api = _Api(r["server"], r["ca_file"], r["token"])
        try:
            ready = api.request("GET", "/readyz", timeout=2)[0] == 200
            code, nodes = api.request("GET", "/api/v1/nodes", timeout=2)
            n_ready = sum(1 for n in nodes.get("items", []) for c in n["status"].get("conditions", [])
                          if c["type"] == "Ready" and c["status"] == "True") if code == 200 else 0
        except (OSError, ssl.SSLError):
            ready, n_ready = False, 0
        out[region] = {"context": r["context"], "server": r["server"], "ready": ready,
                       "nodes_ready": n_ready,
                       "processes": {n: _alive(p) for n, p in r["processes"].items()}}
    return out


# --- the audit log: clients' writes ----------------------------------------------------------------

def audit_log(run_dir: str | os.PathLike, region: str) -> Path:
    return Path(run_dir) / region / "audit.log"


def _audit_regions(run_dir: Path) -> list[str]:
    info = _load(run_dir)
    if info:
        return list(info["regions"])
    return [r for r in REGIONS if (run_dir / r).is_dir()]


def audit_mark(run_dir: str | os.PathLike) -> dict:
    """Where each region's audit log ends now: {region: [inode, size]} ([None, 0]: no log yet).

    Pass it to mutating_requests / audit_events to see only what was written after it.
    """
    mark = {}
    for region in _audit_regions(Path(run_dir)):
        try:
            st = audit_log(run_dir, region).stat()
            mark[region] = [st.st_ino, st.st_size]
        except FileNotFoundError:
            mark[region] = [None, 0]
    return mark


def _audit_chunks(run_dir: Path, region: str, mark) -> list[tuple[Path, int]]:
    """The files (oldest first) and offsets holding the region's events since the mark.

    lumberjack renames a full audit.log to audit-<time>.log (the inode stays) and starts a new
    one, so the marked inode is found among the backups after a rotation.
    """
    current = audit_log(run_dir, region)
    files = sorted(current.parent.glob("audit-*.log"))
    if current.exists():
        files.append(current)
    inode, offset = mark if mark else (None, 0)
    if inode is None:  # no log at the mark: all of it is newer
        return [(f, 0) for f in files]
    for i, f in enumerate(files):
        try:
            st = f.stat()
        except FileNotFoundError:
            continue
        if st.st_ino == inode:
            if st.st_size < offset:  # not the marked file after all (a new cluster in this dir)
                return [(g, 0) for g in files[i:]]
            return [(f, offset)] + [(g, 0) for g in files[i + 1:]]
    raise ClusterError(f"the {region} audit log was rotated away since the mark "
                       f"({AUDIT_LOG_BACKUPS} backups of {AUDIT_LOG_MAX_MB} MB are kept): take a newer mark")


def _is_client_write(ev: dict) -> bool:
    """A completed mutating request of a client: the policy's choice, checked again here (a log
    written under another policy, a node simulator started with admin credentials), and no dry run."""
    if ev.get("stage") != "ResponseComplete" or ev.get("verb") not in MUTATING_VERBS:
        return False
    if (ev.get("user") or {}).get("username") in CONTROL_PLANE_USERS:
        return False
    if (ev.get("userAgent") or "").startswith(NODESIM_USER_AGENT):
        return False
    if (ev.get("objectRef") or {}).get("apiGroup") in REVIEW_GROUPS:
        return False
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(ev.get("requestURI", "")).query)
    return "All" not in query.get("dryRun", [])  # server-side dry run: validated, not stored


def _write_key(region: str, ev: dict) -> str:
    ref = ev.get("objectRef")
    if ref and ref.get("resource"):
        what = ref["resource"] + ("/" + ref["subresource"] if ref.get("subresource") else "")
    else:  # a non-resource URL
        what = urllib.parse.urlsplit(ev.get("requestURI", "")).path
    return f"k8s:{region}:{ev['verb']} {what}"


def audit_events(run_dir: str | os.PathLike, mark: dict | None = None) -> list[dict]:
    """The clients' writes since the mark (None: since the cluster started), oldest first per region:
    [{"key", "region", "verb", "uri", "user", "user_agent", "code", "time"}]."""
    run_dir = Path(run_dir)
    out = []
    for region in _audit_regions(run_dir):
        for path, offset in _audit_chunks(run_dir, region, (mark or {}).get(region)):
            try:
                with open(path, "rb") as handle:
                    handle.seek(offset)
                    data = handle.read()
            except FileNotFoundError:  # rotated away meanwhile: its events are in a backup now
                continue
            for line in data.split(b"\n")[:-1]:  # the last piece is "" or an event half written
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if not _is_client_write(ev):
                    continue
                out.append({"key": _write_key(region, ev), "region": region, "verb": ev["verb"],
                            "uri": ev.get("requestURI"), "user": (ev.get("user") or {}).get("username"),
                            "user_agent": ev.get("userAgent"),
                            "code": (ev.get("responseStatus") or {}).get("code"),
                            "time": ev.get("stageTimestamp")})
    return out


def mutating_requests(run_dir: str | os.PathLike, mark: dict | None = None) -> dict[str, int]:
    """Clients' mutating requests since the mark, counted: {"k8s:<region>:<verb> <resource>[/<sub>]": n}.

    Every attempt counts, failed ones too (as the AWS world counts calls); dry runs and the control
    plane's and node simulator's own writes do not.
    """
    counts: dict[str, int] = {}
    for ev in audit_events(run_dir, mark):
        counts[ev["key"]] = counts.get(ev["key"], 0) + 1
    return dict(sorted(counts.items()))


def set_knobs(run_dir: str | os.PathLike, region: str, pod_start_delay: float | None = None,
              hold: list[str] | None = None, _info: dict | None = None) -> dict:
    """Change a region's node simulator at runtime via ConfigMap kube-system/nodesim-config.

    pod_start_delay: seconds from a pod being bound until it is Running+Ready (pods bound later).
    hold: deployments ("name" or "namespace/name") whose pods never become Ready; [] clears.
    Omitted values are left as they are.
    """
    info = _info or _load(Path(run_dir))
    if not info:
        raise ClusterError(f"no cluster in {run_dir}")
    r = info["regions"][region]
    api = _Api(r["server"], r["ca_file"], r["token"])
    ns, name = NODESIM_CONFIGMAP
    data = {}
    if pod_start_delay is not None:
        data["podStartDelay"] = str(float(pod_start_delay))
    if hold is not None:
        data["hold"] = "\n".join(hold)
    code, body = api.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/{name}",
                             {"data": data}, "application/merge-patch+json")
    if code == 404:
        code, body = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps",
                                 {"metadata": {"name": name}, "data": data})
    if code not in (200, 201):
        raise ClusterError(f"setting nodesim knobs in {region} failed: {code} {body}")
    return body["data"]


@contextlib.contextmanager
def running(run_dir: str | os.PathLike, **kwargs):
    """with running(dir) as info: ...  -- the clusters are stopped however the block exits."""
    try:
        yield start(run_dir, **kwargs)
    finally:
        stop(run_dir, quiet=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.k8s.cluster", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["start", "stop", "status", "knobs", "writes"])
    ap.add_argument("--run-dir", required=True, help="short path, e.g. /tmp/lw (state and logs)")
    ap.add_argument("--nodes", type=int, default=3, help="simulated nodes per region")
    ap.add_argument("--pod-start-delay", type=float, default=None,
                    help="seconds until a bound pod is Running+Ready (start: default 0)")
    ap.add_argument("--hold", action="append", default=None, metavar="[NS/]DEPLOYMENT",
                    help="never make this deployment's pods Ready (repeatable; knobs: '' clears)")
    ap.add_argument("--region", action="append", default=None,
                    help=f"start: regions to start (default {' '.join(REGIONS)}); knobs: target")
    ap.add_argument("--no-nodesim", action="store_true", help="control planes only")
    ap.add_argument("--timeout", type=float, default=120.0)
    a = ap.parse_args(argv)
    try:
        if a.command == "start":
            start(a.run_dir, regions=tuple(a.region or REGIONS), nodes=a.nodes,
                  pod_start_delay=a.pod_start_delay or 0.0, hold=a.hold, nodesim=not a.no_nodesim,
                  timeout=a.timeout)
            print(f"KUBECONFIG={Path(a.run_dir).resolve() / 'kubeconfig'}")
        elif a.command == "stop":
            stop(a.run_dir)
        elif a.command == "writes":
            print(json.dumps(mutating_requests(a.run_dir), indent=2))
        elif a.command == "status":
            st = status(a.run_dir)
            print(json.dumps(st, indent=2) if st else f"no cluster in {a.run_dir}")
            return 0 if st and all(r["ready"] and all(r["processes"].values())
                                   for r in st.values()) else 1
        else:
            hold = None if a.hold is None else [h for h in a.hold if h]
            for region in a.region or REGIONS:
                print(region, json.dumps(set_knobs(a.run_dir, region, a.pod_start_delay, hold)))
    except ClusterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
