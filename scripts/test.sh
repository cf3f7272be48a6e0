#!/usr/bin/env bash
# The whole test suite, from nothing (CI runs exactly this through .ci/run):
#   static checks: ansible-lint, ansible-test sanity (ansible-core 2.21 and the oldest claimed),
#   ansible-doc of every module, the execution environment's build context, the controller assets;
#   then inside a loopback-only network namespace, with the embedded AWS world and the two
#   Kubernetes control planes running:
#   pytest (units, the world's own tests, integration tests of every module and playbook; the
#   Route 53 scenario against LocalStack too)
#   and molecule test --all (the playbook scenarios).
#   scripts/test.sh [--fast]   --fast skips ansible-test sanity
set -euo pipefail
cd "$(dirname "$0")/.."
fast=false; [ "${1:-}" = --fast ] && fast=true
scripts/setup.sh
export PATH=$PWD/.venv/bin:$PATH ANSIBLE_CONFIG=$PWD/ansible.cfg
t0=$(date +%s)
section() { printf '\n==== %s (%s s)\n' "$1" "$(( $(date +%s) - t0 ))"; }

section "ansible-doc renders every module"
for m in plugins/modules/*.py; do
    name=$(basename "$m" .py)
    ansible-doc "lomashwood.multiregion.$name" >/dev/null
    echo "ok $name"
done

section "ansible-lint (production profile)"
ansible-lint -q

if ! $fast; then
    section "ansible-test sanity (ansible-core 2.21)"
    scripts/sanity.sh
    section "ansible-test sanity (the oldest ansible-core meta/runtime.yml claims, .venv-oldest)"
    LOMASHWOOD_SANITY_VENV=.venv-oldest scripts/sanity.sh
fi

section "collection build, execution environment build context (ansible-builder create), controller assets, plugin docs"
ee=$(mktemp -d)
ansible-galaxy collection build --output-path "$ee" . >/dev/null
cp execution-environment.yml requirements.txt "$ee"/
ansible-builder create --file "$ee/execution-environment.yml" --context "$ee/context" --output-filename Containerfile
LOMASHWOOD_EE_CONTEXT=$ee/context python -m pytest -q tests/static
rm -rf "$ee"

section "pytest and molecule, inside a loopback-only network namespace"
scripts/in-netns.sh scripts/with-world.sh --k8s --localstack -- sh -c 'python -m pytest -q -ra --durations=30 --ignore=tests/static && molecule test --all'  # tests/static ran above
section "all passed"
