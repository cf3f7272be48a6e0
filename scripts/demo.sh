#!/usr/bin/env bash
# The main job on the embedded world, from nothing: set up what is missing, start the AWS
# emulator and the two Kubernetes control planes inside a loopback-only network namespace,
# seed the production-shaped world, simulate
# the eu-west-1 outage, run playbooks/failover.yml -i inventories/local, and show the outcome.
#   scripts/demo.sh [extra ansible-playbook args, e.g. --check --diff]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != --inner ]; then
    scripts/setup.sh
    exec scripts/in-netns.sh scripts/with-world.sh --k8s --seed -- scripts/demo.sh --inner "$@"
fi
shift
export LOMASHWOOD_REPORT_DIR=${LOMASHWOOD_REPORT_DIR:-$PWD/reports}
python - <<'PY'
import os
from tests.world.control import World
world = World(os.environ["AWS_ENDPOINT_URL"])
world.configure(promotion_seconds=float(os.environ.get("LOMASHWOOD_PROMOTION_SECONDS", "4")))
world.region_down("eu-west-1")
print("[demo] eu-west-1 is down (its APIs answer 503); promotion takes %ss" % world.config()["promotion_seconds"])
PY
start=$(date +%s)
status=0
ansible-playbook playbooks/failover.yml -i inventories/local -e dr_incident_id=DEMO-1 "$@" || status=$?
echo "[demo] failover.yml exited $status after $(( $(date +%s) - start )) s; reports in $LOMASHWOOD_REPORT_DIR:"
ls -t "$LOMASHWOOD_REPORT_DIR" 2>/dev/null | head -n 2 | sed 's/^/  /'
exit $status
