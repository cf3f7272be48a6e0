#!/usr/bin/env bash
# Build (once) the Kubernetes 1.20 control plane used by the embedded test environment.
#
# kube-apiserver, kube-controller-manager and kube-scheduler are compiled from Debian's
# `kubernetes` source package (it ships vendor/, so the build needs no Go proxy) with Debian's
# golang-1.19-go.  etcd and kubectl 1.20 are extracted from Debian's binary packages, not
# installed (installing etcd-server would start a system etcd on port 2379).
#
# Only the Debian package registry is used.  The binaries are cached in
#   ${LOMASHWOOD_CACHE:-$HOME/.cache/lomashwood-multiregion}/k8s/bin/
# and a second run exits at once.  A cold build takes 6-8 minutes on 2 cores and a 3.5 GB tree
# that is deleted afterwards.  FORCE=1 rebuilds.
set -euo pipefail

CACHE="${LOMASHWOOD_CACHE:-$HOME/.cache/lomashwood-multiregion}/k8s"
BIN="$CACHE/bin"
WORK="$CACHE/build"
GO_ROOT=/usr/lib/go-1.19
SERVERS=(kube-apiserver kube-controller-manager kube-scheduler)
REQUIRED=("${SERVERS[@]}" etcd)

say() { printf '[k8s-build %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

all_cached() {
  local b
  for b in "${REQUIRED[@]}"; do [[ -x "$BIN/$b" ]] || return 1; done
}

if [[ "${FORCE:-0}" != 1 ]] && all_cached; then
  say "cached: $BIN ($(cat "$CACHE/build-info.txt" 2>/dev/null | head -1 || true))"
  exit 0
fi

mkdir -p "$CACHE"
# One build at a time: a second caller waits and then finds the cache filled.
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then
  say "another build is running; waiting for it"
  flock 9
  if all_cached; then say "cached: $BIN"; exit 0; fi
fi

SUDO=""
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null || { say "need root or sudo for apt-get"; exit 1; }
  SUDO=sudo
fi

start=$(date +%s)

# --- 1. packages from the Debian registry ------------------------------------------------------
say "stage 1/5: apt sources and build tools"
if ! apt-cache showsrc kubernetes >/dev/null 2>&1 || [[ -z "$(apt-cache showsrc kubernetes 2>/dev/null)" ]]; then
  # The image has binary sources only; add Debian's source index for bookworm main.
  $SUDO tee /etc/apt/sources.list.d/lomashwood-debian-src.sources >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  $SUDO apt-get update -qq
fi
missing=()
[[ -x "$GO_ROOT/bin/go" ]] || missing+=(golang-1.19-go)
command -v rsync >/dev/null || missing+=(rsync)
command -v make >/dev/null || missing+=(make)
command -v dpkg-source >/dev/null || missing+=(dpkg-dev)
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

rm -rf "$WORK"
mkdir -p "$WORK/debs"
trap 'rm -rf "$WORK"' EXIT   # the tree is 3.5 GB: never leave it behind, even on failure

# --- 2. etcd and kubectl, extracted, not installed ---------------------------------------------
say "stage 2/5: etcd-server and kubernetes-client (apt-get download + dpkg-deb -x)"
(
  cd "$WORK/debs"
  apt-get download -qq etcd-server kubernetes-client
  for deb in *.deb; do dpkg-deb -x "$deb" root; done
)
[[ -x "$WORK/debs/root/usr/bin/etcd" ]] || { say "etcd not found in etcd-server"; exit 1; }

# --- 3. kubernetes source -----------------------------------------------------------------------
say "stage 3/5: apt-get source kubernetes"
(cd "$WORK" && apt-get source -qq kubernetes >/dev/null)
SRC=$(find "$WORK" -maxdepth 1 -type d -name 'kubernetes-*' | head -1)
[[ -n "$SRC" && -d "$SRC/vendor" ]] || { say "source tree with vendor/ not found"; exit 1; }
say "source: $(basename "$SRC")"

# --- 4. go build (slow) ---------------------------------------------------------------------------
say "stage 4/5: make ${SERVERS[*]} (6-8 min on 2 cores; log: $WORK/make.log)"
export PATH="$GO_ROOT/bin:$PATH"
# Keep Go's build cache inside the tree so deleting the tree frees everything; the build
# scripts set their own GOPATH/GO111MODULE and use vendor/, so Go never needs the network.
export GOCACHE="$WORK/gocache" GOPROXY=off
make_start=$(date +%s)
(cd "$SRC" && make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler") \
  >"$WORK/make.log" 2>&1 &
make_pid=$!
while kill -0 "$make_pid" 2>/dev/null; do
  for _ in $(seq 30); do kill -0 "$make_pid" 2>/dev/null || break; sleep 1; done
  kill -0 "$make_pid" 2>/dev/null || break
  # go build is silent while compiling: the size of its output tree shows that it is moving.
  done_bins=$(find "$SRC/_output" -type f -perm -u+x -name 'kube-*' 2>/dev/null | xargs -rn1 basename | tr '\n' ' ' || true)
  say "  building... $(($(date +%s) - make_start)) s, output $(du -sm "$SRC/_output" 2>/dev/null | cut -f1) MB, done: ${done_bins:-none} ($(tail -n 1 "$WORK/make.log" | cut -c1-60 | sed 's/^ *//'))"
done
if ! wait "$make_pid"; then
  tail -n 40 "$WORK/make.log"
  say "make failed"
  exit 1
fi

# --- 5. install into the cache --------------------------------------------------------------------
say "stage 5/5: caching binaries in $BIN"
rm -rf "$BIN.new"
mkdir -p "$BIN.new"
for b in "${SERVERS[@]}"; do
  f=$(find "$SRC/_output" -type f -name "$b" -perm -u+x | head -1)
  [[ -n "$f" ]] || { say "$b not built"; exit 1; }
  cp "$f" "$BIN.new/$b"
done
cp "$WORK/debs/root/usr/bin/etcd" "$BIN.new/etcd"
[[ -x "$WORK/debs/root/usr/bin/etcdctl" ]] && cp "$WORK/debs/root/usr/bin/etcdctl" "$BIN.new/"
[[ -x "$WORK/debs/root/usr/bin/kubectl" ]] && cp "$WORK/debs/root/usr/bin/kubectl" "$BIN.new/kubectl"
rm -rf "$BIN"
mv "$BIN.new" "$BIN"

secs=$(($(date +%s) - start))
{
  echo "built $(date -u +%FT%TZ) from $(basename "$SRC") in ${secs} s (go build $(($(date +%s) - make_start)) s) on $(nproc) cores"
  "$BIN/kube-apiserver" --version
  "$BIN/etcd" --version | sed -n 1p   # sed reads to the end: no SIGPIPE under pipefail
  if [[ -x "$BIN/kubectl" ]]; then "$BIN/kubectl" version --client --short 2>/dev/null || true; fi
} >"$CACHE/build-info.txt"
say "done in ${secs} s; deleting the build tree"
cat "$CACHE/build-info.txt"
du -sh "$BIN"
