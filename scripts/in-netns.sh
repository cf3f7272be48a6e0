#!/usr/bin/env bash
# Run a command inside a private network namespace that holds only loopback: the emulators, the
# Kubernetes control planes and the playbooks can reach 127.0.0.1 and nothing else, so a missing
# endpoint setting fails fast instead of reaching real AWS. Install everything before entering.
set -euo pipefail
if [ "${LOMASHWOOD_IN_NETNS:-}" = 1 ]; then exec "$@"; fi
exec unshare --net -- env LOMASHWOOD_IN_NETNS=1 sh -c 'ip link set lo up && exec "$@"' sh "$@"
