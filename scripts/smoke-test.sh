#!/usr/bin/env bash
# The platform's smoke tests: the API gateway and every service answer through the public name.
#   scripts/smoke-test.sh production   https://api.lomashwood.com
#   scripts/smoke-test.sh local        the embedded world's edge ($LOMASH_EDGE_URL)
# EXPECT_REGION=eu-west-2 also checks that every answer comes from that region.
set -euo pipefail
case "${1:-}" in
    production) base=https://api.lomashwood.com ;;
    local) base=${LOMASH_EDGE_URL:?LOMASH_EDGE_URL is not set: run inside scripts/with-world.sh} ;;
    *) echo "usage: $0 production|local" >&2; exit 2 ;;
esac
paths=(/health /v1/auth/health /v1/products/health /v1/orders/health /v1/appointments/health
       /v1/content/health /v1/customers/health /v1/notifications/health /v1/analytics/health)
# All at once (this runs on the failover's critical path), each answer in its own file, read in order.
answers=$(mktemp -d)
trap 'rm -rf "$answers"' EXIT
for i in "${!paths[@]}"; do
    { curl -sS --max-time 10 -w ' HTTP %{http_code}' "$base${paths[$i]}" 2>&1 || true; } > "$answers/$i" &
done
wait
failed=0
for i in "${!paths[@]}"; do
    path=${paths[$i]}
    body=$(<"$answers/$i")
    if [[ "$body" != *' HTTP 200' ]] || { [ -n "${EXPECT_REGION:-}" ] && [[ "$body" != *"\"region\": \"$EXPECT_REGION\""* && "$body" != *"\"region\":\"$EXPECT_REGION\""* ]]; }; then
        echo "FAIL $path: $body"
        failed=$((failed + 1))
    else
        echo "ok   $path"
    fi
done
[ "$failed" = 0 ] && echo "smoke tests passed: ${#paths[@]} of ${#paths[@]} from ${EXPECT_REGION:-any region}" || { echo "smoke tests failed: $failed of ${#paths[@]}"; exit 1; }
