#!/usr/bin/env bash
# Start the embedded world on 127.0.0.1: the AWS emulator (moto + the project's realism layer)
# and, with --k8s, the two Kubernetes control planes (eu-west-1, eu-west-2) with simulated nodes;
# run a command with AWS_ENDPOINT_URL, LOMASH_EDGE_URL (the local edge), test credentials and
# KUBECONFIG set; stop it all after. With --localstack, also LocalStack (S3, Route 53, ...) on
# 127.0.0.1, its endpoint in LOCALSTACK_ENDPOINT_URL (.venv-localstack, made by scripts/setup.sh).
#   scripts/with-world.sh [--seed] [--k8s] [--localstack] -- COMMAND...
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
seed=false
k8s=false
localstack=false
while [ $# -gt 0 ]; do
    case "$1" in
        --seed) seed=true; shift ;;
        --k8s) k8s=true; shift ;;
        --localstack) localstack=true; shift ;;
        --) shift; break ;;
        *) break ;;
    esac
done
[ "${LOMASHWOOD_IN_NETNS:-}" = 1 ] || { echo "with-world.sh: run me through scripts/in-netns.sh (loopback only)" >&2; exit 2; }

RUN=$(mktemp -d /tmp/lmw.XXXXXX)
pids=()
localstack_pid=
stop() {
    local p
    if [ -f "$RUN/k8s/cluster.json" ]; then python -m tests.k8s.cluster stop --run-dir "$RUN/k8s" >/dev/null 2>&1 || true; fi
    if [ -n "$localstack_pid" ]; then stop_localstack; fi
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$RUN"
}
trap stop EXIT
# LocalStack can hang in "[shutdown] Stopping all services" after SIGTERM: 3 s, then SIGKILL.
stop_localstack() {
    kill "$localstack_pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$localstack_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$localstack_pid" 2>/dev/null || true
    wait "$localstack_pid" 2>/dev/null || true
}

export PATH=$ROOT/.venv/bin:$PATH
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
export AWS_DEFAULT_REGION=eu-west-2
export ANSIBLE_CONFIG=$ROOT/ansible.cfg ANSIBLE_PYTHON_INTERPRETER=$ROOT/.venv/bin/python
export LOMASHWOOD_RUN_DIR=$RUN

python -m tests.world serve --endpoint-file "$RUN/aws.endpoint" >"$RUN/world.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$RUN/aws.endpoint" ] && break; sleep 0.1; done
[ -s "$RUN/aws.endpoint" ] || { echo "the AWS world did not start:" >&2; cat "$RUN/world.log" >&2; exit 1; }
AWS_ENDPOINT_URL=$(cat "$RUN/aws.endpoint")
LOMASH_EDGE_URL=$(cat "$RUN/aws.endpoint.edge")  # the local edge: follows api.lomashwood.com's records
export AWS_ENDPOINT_URL LOMASH_EDGE_URL
echo "[world] AWS emulator at $AWS_ENDPOINT_URL, edge at $LOMASH_EDGE_URL"

if $localstack; then
    # LocalStack on a free loopback port, everything it writes under the run dir (HOME, TMPDIR,
    # FILESYSTEM_ROOT), no DNS server, no analytics, no certificate download; its licence and
    # analytics clients point at a closed loopback port (the namespace has no route out anyway).
    # OVERRIDE_IN_DOCKER=0: in a container it would write to /var/lib/localstack and listen on
    # 0.0.0.0; hypercorn: its default (twisted) server ignores GATEWAY_LISTEN's address.
    [ -x "$ROOT/.venv-localstack/bin/python" ] || { echo "no .venv-localstack: run scripts/setup.sh" >&2; exit 1; }
    ls_port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$RUN/localstack/tmp" "$RUN/localstack/fs"
    ls_t0=$(date +%s.%N)
    (cd "$RUN/localstack" && exec env -u AWS_ENDPOINT_URL HOME="$RUN/localstack" TMPDIR="$RUN/localstack/tmp" \
        FILESYSTEM_ROOT="$RUN/localstack/fs" GATEWAY_LISTEN="127.0.0.1:$ls_port" LOCALSTACK_HOST="127.0.0.1:$ls_port" \
        OVERRIDE_IN_DOCKER=0 GATEWAY_SERVER=hypercorn DNS_ADDRESS=0 SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 \
        API_ENDPOINT=http://127.0.0.1:9 ANALYTICS_API=http://127.0.0.1:9 \
        "$ROOT/.venv-localstack/bin/python" -m localstack.runtime.main) >"$RUN/localstack.log" 2>&1 &
    localstack_pid=$!
    LOCALSTACK_ENDPOINT_URL=http://127.0.0.1:$ls_port
    if ! python - "$LOCALSTACK_ENDPOINT_URL/_localstack/health" "$!" <<'PY'
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
for _ in range(1200):  # 120 s: the first start after an install builds plux's entry point cache
    try:
        urllib.request.urlopen(url, timeout=1).read()
        sys.exit(0)
    except OSError:
        os.kill(pid, 0)  # stop waiting once it has died
        time.sleep(0.1)
sys.exit(1)
PY
    then
        echo "LocalStack did not start:" >&2; tail -n 30 "$RUN/localstack.log" >&2; exit 1
    fi
    export LOCALSTACK_ENDPOINT_URL
    echo "[world] LocalStack at $LOCALSTACK_ENDPOINT_URL (up in $(python -c "import time; print(round(time.time() - $ls_t0, 1))") s)"
fi

if $k8s; then
    python -m tests.k8s.cluster start --run-dir "$RUN/k8s" >"$RUN/k8s-start.log" 2>&1 \
        || { echo "the Kubernetes control planes did not start:" >&2; tail -n 30 "$RUN/k8s-start.log" >&2; exit 1; }
    export KUBECONFIG=$RUN/k8s/kubeconfig
    # The regional services behind the edge read their deployments from these control planes.
    python -m tests.world config --endpoint "$AWS_ENDPOINT_URL" --set "kubeconfig=$KUBECONFIG" >/dev/null
    echo "[world] Kubernetes eu-west-1 and eu-west-2 up (KUBECONFIG=$KUBECONFIG)"
fi

if $seed; then
    python -m tests.world seed --endpoint "$AWS_ENDPOINT_URL" --out "$RUN/world.json" >/dev/null
    if $k8s; then
        python -m tests.k8s.seed --kubeconfig "$KUBECONFIG" --world "$RUN/world.json" >/dev/null
    fi
    echo "[world] seeded the production-shaped world"
fi
"$@"
