#!/usr/bin/env bash
# Start the embedded world on 127.0.0.1: the AWS emulator (moto + the project's realism layer)
# and, with --k8s, the two Kubernetes control planes (eu-west-1, eu-west-2) with simulated nodes;
# run a command with AWS_ENDPOINT_URL, LOMASH_EDGE_URL (the local edge), test credentials and
# KUBECONFIG set; stop it all after.
#   scripts/with-world.sh [--seed] [--k8s] -- COMMAND...
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
seed=false
k8s=false
while [ $# -gt 0 ]; do
    case "$1" in
        --seed) seed=true; shift ;;
        --k8s) k8s=true; shift ;;
        --) shift; break ;;
        *) break ;;
    esac
done
[ "${LOMASHWOOD_IN_NETNS:-}" = 1 ] || { echo "with-world.sh: run me through scripts/in-netns.sh (loopback only)" >&2; exit 2; }

RUN=$(mktemp -d /tmp/lmw.XXXXXX)
pids=()
stop() {
    local p
    if [ -f "$RUN/k8s/cluster.json" ]; then python -m tests.k8s.cluster stop --run-dir "$RUN/k8s" >/dev/null 2>&1 || true; fi
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$RUN"
}
trap stop EXIT

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
