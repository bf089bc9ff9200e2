#!/usr/bin/env bash
# Build the tools the benchmark compares logos-doctor with, from the Go module proxy:
#   k8sgpt  (github.com/k8sgpt-ai/k8sgpt)  and  popeye (github.com/derailed/popeye)
# into ~/.cache/logos-doctor/bench-tools/ (override: BENCH_TOOLS_DIR). A no-op for a tool
# already built at the pinned version.
#
# Why pinned versions and a wrapper module rather than `go install module@version`:
# - the proxy reachable here does not serve the modules' version lists (`go list -m -versions`
#   answers 403) but does serve these versions; `go install m@v` reads that list (to look for
#   a deprecation notice) and fails on the 403, `go get m@v` inside a module does not;
# - k8sgpt's go.mod has a `replace` directive (docker/docker), which `go install m@v` refuses
#   anyway; the wrapper module repeats the tool's own replace directives.
#
# A tool that cannot be built is reported (the reason goes to <tool>.error) and the script
# goes on; bench/run.py then leaves that tool out and says why.
set -uo pipefail

K8SGPT_VERSION=${K8SGPT_VERSION:-v0.3.48}
POPEYE_VERSION=${POPEYE_VERSION:-v0.22.1}
out=${BENCH_TOOLS_DIR:-"$HOME/.cache/logos-doctor/bench-tools"}
mkdir -p "$out"
export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0

log() { echo "build_tools: $*" >&2; }

# build NAME MODULE VERSION [LDFLAGS]: build MODULE's main package (the module root) at
# VERSION into $out/NAME, inside a throw-away module.
build() {
  local name=$1 module=$2 version=$3 ldflags=${4:-}
  if [ -x "$out/$name" ] && [ "$(cat "$out/$name.version" 2>/dev/null)" = "$version" ]; then
    log "$name $version: cached"
    return
  fi
  log "$name $version: building (several minutes on 2 cores)"
  local logf="$out/$name.build.log" work rc
  work=$(mktemp -d "/tmp/bench-$name-XXXXXX")
  (
    set -e
    cd "$work"
    go mod init "bench.local/$name-wrapper"
    go mod download -json "$module@$version" >mod.json
    gomod=$(python3 -c 'import json; print(json.load(open("mod.json"))["GoMod"])')
    src=$(python3 -c 'import json; print(json.load(open("mod.json"))["Dir"])')
    # The tool's own go.sum: some of its dependencies (buf.build/gen/go/...) are not in the
    # public checksum database, so without their recorded hashes `go get` cannot verify them.
    [ -f "$src/go.sum" ] && cp "$src/go.sum" go.sum && chmod u+w go.sum
    # One-line `replace a => b vX` directives of the tool's go.mod (block form not needed yet).
    sed -n 's#^replace \([^ ]*\) => \([^ ]*\) \(v[^ ]*\)$#\1=\2@\3#p' "$gomod" |
      while read -r r; do go mod edit -replace="$r"; done
    timeout 900 nice -n 10 go get "$module@$version"
    timeout 1800 nice -n 10 go build -trimpath -ldflags="-s -w $ldflags" -o "$out/$name" "$module"
  ) >"$logf" 2>&1
  rc=$?
  rm -rf "$work"
  if [ $rc -eq 0 ]; then
    echo "$version" >"$out/$name.version"
    rm -f "$out/$name.error"
    log "$name: built $out/$name"
  else
    { echo "could not build $name $version; last lines of $logf:"; tail -n 15 "$logf"; } \
      >"$out/$name.error"
    log "$name: FAILED (see $out/$name.error)"
  fi
}

popeye() {
  build popeye github.com/derailed/popeye "$POPEYE_VERSION" \
    "-X github.com/derailed/popeye/cmd.version=${POPEYE_VERSION#v}"
}
k8sgpt() {
  build k8sgpt github.com/k8sgpt-ai/k8sgpt "$K8SGPT_VERSION" \
    "-X main.version=${K8SGPT_VERSION#v}"
}

case "${1:-all}" in
  popeye) popeye ;;
  k8sgpt) k8sgpt ;;
  all) popeye; k8sgpt ;;
  *) echo "usage: $0 [all|popeye|k8sgpt]" >&2; exit 2 ;;
esac
echo "$out"
