#!/usr/bin/env bash
# ansible-test sanity on a clean copy of the collection. ansible-test wants the collection at
# .../ansible_collections/lomashwood/multiregion outside any git work tree, with its dependencies
# as siblings; it bootstraps pip into its venvs with a get-pip script from a host this machine
# cannot reach, so a stand-in that uses ensurepip + PyPI is put where it looks first.
#   scripts/sanity.sh [ansible-test sanity options]
#   LOMASHWOOD_SANITY_VENV=.venv-oldest scripts/sanity.sh   the oldest ansible-core meta/runtime.yml claims
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$(cd "${LOMASHWOOD_SANITY_VENV:-$ROOT/.venv}" && pwd)
PY=$VENV/bin/python
pip_version=$("$PY" - <<'PY'
import re, inspect
from ansible_test._internal import python_requirements as pr
print(re.search(r"pip='([^']+)'", inspect.getsource(pr.get_venv_packages)).group(1))
PY
)
standin=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [ ! -f "$standin" ]; then
    mkdir -p "$(dirname "$standin")"
    cat >"$standin" <<'PY'
# Stand-in for get-pip.py (its host is unreachable here): ensurepip, then pip from PyPI.
import subprocess, sys
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/lomashwood/multiregion
mkdir -p "$dest"
git ls-files --cached --others --exclude-standard -z | xargs -0 -I{} cp -P --parents {} "$dest"/ 2>/dev/null || true
for dep in amazon/aws kubernetes/core community/general community/library_inventory_filtering_v1; do
    mkdir -p "$work/ansible_collections/$(dirname "$dep")"
    ln -s "$ROOT/collections/ansible_collections/$dep" "$work/ansible_collections/$dep"
done
cd "$dest"
git init -q && git add -A >/dev/null 2>&1 && git -c user.email=ci@localhost -c user.name=ci commit -qm sanity >/dev/null
# The emulator's realism layer, the node simulator and the scripts are test tooling, not content.
excludes=()
for d in tests/world/ tests/k8s/ scripts/ extensions/ bench/; do [ -d "$d" ] && excludes+=(--exclude "$d"); done
echo "[sanity] $("$VENV/bin/python" -c "import ansible.release as r; print('ansible-core', r.__version__)") on $("$PY" --version)"
"$VENV/bin/ansible-test" sanity --python 3.12 --color no "${excludes[@]}" "$@"
