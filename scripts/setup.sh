#!/usr/bin/env bash
# Set up everything the demo and the tests need, on a fresh machine, idempotently:
#   - a Python >= 3.12 virtualenv in .venv with the pinned requirements (ansible-core 2.21 needs 3.12);
#   - .venv-oldest with the oldest ansible-core meta/runtime.yml claims (requirements-oldest.txt), for sanity;
#   - a Python >= 3.13 virtualenv in .venv-localstack with LocalStack (localstack-core needs 3.13),
#     for the S3 and Route 53 tests against LocalStack (LOMASHWOOD_SKIP_LOCALSTACK=1 skips it);
#   - the dependency collections, extracted from the `ansible` wheel on PyPI (Galaxy is unreachable);
#   - the collection itself made importable through collections/ansible_collections/lomashwood/multiregion;
#   - the Kubernetes control-plane binaries, built from Debian's source once and cached;
#   - with LOMASHWOOD_BENCH=1, the benchmarks' plotting library (bench/requirements.txt).
# Re-running it does nothing that is already done. Needs only the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${LOMASHWOOD_CACHE:-$HOME/.cache/lomashwood-multiregion}
VENV=$ROOT/.venv
VENV_LOCALSTACK=$ROOT/.venv-localstack
ANSIBLE_WHEEL_VERSION=14.5.0
COLLECTIONS="amazon/aws kubernetes/core community/general community/library_inventory_filtering_v1"
mkdir -p "$CACHE"

say() { printf '[setup] %s\n' "$*"; }

# find_python MINOR [FIRST]: a Python >= 3.MINOR, trying FIRST (a user's choice), then 3.MINOR, 3.MINOR+1.
find_python() {
    local min=$1 first=${2:-} next=$(($1 + 1)) c pyenvs
    # pyenv's interpreters: under PYENV_ROOT, $HOME, and the passwd home (HOME may be another
    # directory in containers and CI runners).
    pyenvs="${PYENV_ROOT:-$HOME/.pyenv} $HOME/.pyenv $(getent passwd "$(id -u)" | cut -d: -f6)/.pyenv"
    for c in "$first" python3.$min python3.$next $(for p in $pyenvs; do echo "$p"/versions/3.$min*/bin/python "$p"/versions/3.$next*/bin/python; done) /usr/bin/python3; do
        [ -n "$c" ] || continue
        command -v "$c" >/dev/null 2>&1 || [ -x "$c" ] || continue
        if "$c" -c "import sys; sys.exit(0 if sys.version_info >= (3, $min) else 1)" 2>/dev/null; then
            command -v "$c" 2>/dev/null || echo "$c"
            return 0
        fi
    done
    return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    PY=$(find_python 12 "${PYTHON:-}") || { echo "[setup] no Python >= 3.12 found (ansible-core 2.21 needs it); set PYTHON=/path/to/python3.12" >&2; exit 1; }
    say "creating .venv with $PY"
    "$PY" -m venv "$VENV"
fi

# Reinstall only when the pinned requirements changed.
stamp=$VENV/.requirements.sha256
want=$(cat requirements.txt requirements-test.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing pinned requirements into .venv (about 2 minutes the first time)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-test.txt 2>&1 \
        | grep -v "^WARNING: Location" || true
    "$VENV/bin/python" -c 'import ansible, boto3, kubernetes, moto, molecule' \
        || { echo "[setup] requirements did not install" >&2; exit 1; }
    echo "$want" >"$stamp"
fi

# The oldest ansible-core meta/runtime.yml claims, for ansible-test sanity (scripts/test.sh): its own
# venv, reinstalled only when requirements-oldest.txt changed.
VENV_OLDEST=$ROOT/.venv-oldest
if [ ! -x "$VENV_OLDEST/bin/python" ]; then
    say "creating .venv-oldest"  # with .venv's interpreter (Python >= 3.12)
    "$("$VENV/bin/python" -c 'import sys; print(sys._base_executable)')" -m venv "$VENV_OLDEST"
fi
stamp=$VENV_OLDEST/.requirements.sha256
want=$(sha256sum requirements-oldest.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing the oldest claimed ansible-core into .venv-oldest"
    "$VENV_OLDEST/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-oldest.txt 2>&1 \
        | grep -v "^WARNING: Location" || true
    "$VENV_OLDEST/bin/ansible-test" --version >/dev/null || { echo "[setup] .venv-oldest did not install" >&2; exit 1; }
    echo "$want" >"$stamp"
fi

# Dependency collections from the `ansible` wheel (no Galaxy here).
DEST=$ROOT/collections/ansible_collections
missing=""
for c in $COLLECTIONS; do [ -f "$DEST/$c/MANIFEST.json" ] || missing="$missing $c"; done
if [ -n "$missing" ]; then
    wheel=$(ls "$CACHE"/wheels/ansible-"$ANSIBLE_WHEEL_VERSION"-*.whl 2>/dev/null | head -n1 || true)
    if [ -z "$wheel" ]; then
        say "downloading the ansible $ANSIBLE_WHEEL_VERSION wheel for its collections"
        "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
            -d "$CACHE/wheels" "ansible==$ANSIBLE_WHEEL_VERSION" 2>&1 | grep -v "^WARNING: Location" || true
        wheel=$(ls "$CACHE"/wheels/ansible-"$ANSIBLE_WHEEL_VERSION"-*.whl | head -n1)
    fi
    say "extracting$missing"
    "$VENV/bin/python" - "$wheel" "$ROOT/collections" $missing <<'PY'
import sys, zipfile
wheel, dest, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
prefixes = tuple("ansible_collections/%s/" % c for c in wanted)
with zipfile.ZipFile(wheel) as z:
    z.extractall(dest, [n for n in z.namelist() if n.startswith(prefixes)])
PY
fi
mkdir -p "$DEST/lomashwood"
[ -L "$DEST/lomashwood/multiregion" ] || ln -s ../../.. "$DEST/lomashwood/multiregion"

# LocalStack in its own venv (localstack-core needs Python >= 3.13; its pins clash with .venv's
# boto3): reinstalled only when requirements-localstack.txt changed. Started by with-world.sh --localstack.
if [ "${LOMASHWOOD_SKIP_LOCALSTACK:-}" != 1 ]; then
    if [ ! -x "$VENV_LOCALSTACK/bin/python" ]; then
        PY_LOCALSTACK=$(find_python 13 "${PYTHON_LOCALSTACK:-}") \
            || { echo "[setup] no Python >= 3.13 found (localstack-core needs it); set PYTHON_LOCALSTACK=/path/to/python3.13" >&2; exit 1; }
        say "creating .venv-localstack with $PY_LOCALSTACK"
        "$PY_LOCALSTACK" -m venv "$VENV_LOCALSTACK"
    fi
    stamp=$VENV_LOCALSTACK/.requirements.sha256
    want=$(sha256sum requirements-localstack.txt | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "installing LocalStack into .venv-localstack (about 1-2 minutes the first time)"
        "$VENV_LOCALSTACK/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-localstack.txt 2>&1 \
            | grep -v "^WARNING: Location" || true
        "$VENV_LOCALSTACK/bin/python" -c 'import localstack.runtime.main, rolo, moto' \
            || { echo "[setup] LocalStack did not install" >&2; exit 1; }
        echo "$want" >"$stamp"
    fi
fi

# The benchmarks' plotting library (bench/requirements.txt), only when asked: LOMASHWOOD_BENCH=1
# scripts/setup.sh (CI never asks, so its set-up stays fast).
if [ "${LOMASHWOOD_BENCH:-}" = 1 ] && ! "$VENV/bin/python" -c 'import matplotlib' 2>/dev/null; then
    say "installing the benchmarks' requirements (bench/requirements.txt)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt \
        || { echo "[setup] bench/requirements.txt did not install" >&2; exit 1; }
fi

# The Kubernetes control planes (kube-apiserver, controller-manager, scheduler from Debian's
# source, etcd): built once, cached in $CACHE/k8s; the first build takes 6-15 minutes.
if [ "${LOMASHWOOD_SKIP_K8S:-}" != 1 ]; then
    LOMASHWOOD_CACHE=$CACHE tests/k8s/build.sh
fi
say "ready: $("$VENV/bin/ansible" --version | head -n1)"
