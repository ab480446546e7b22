#!/usr/bin/env bash
# Builds the real engines into build/engines/bin, once: a stamp of every pin, wrapper
# module and source makes a second run with nothing changed a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null || { echo "make engines: needs the go command (Go 1.26 or newer)" >&2; exit 1; }
out=build/engines/bin
stamp=build/engines/stamp
# shellcheck source=/dev/null
. engines/versions.env

sum=$( (go version; cat engines/versions.env;
  find engines -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' -o -name '*.sh' \) \
    -not -name '*-embed.json' | sort | xargs cat) | sha256sum | cut -d' ' -f1)
bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl pulumi pulumi-language-python
  pulumi-language-python-exec pulumi-resource-kubernetes pulumi-resource-random kwok
  kwok-stages.yaml)
have_all() { for b in "${bins[@]}"; do [[ -e $out/$b ]] || return 1; done; }
if [[ -f $stamp && $(cat "$stamp") == "$sum" ]] && have_all; then
  echo "engines: up to date in $out"; exit 0
fi
mkdir -p "$out"
export GOFLAGS=-mod=mod
pin() { # wrapper module, module path, expected version
  local got
  got=$(cd "engines/$1" && go list -m -f '{{.Version}}' "$2")
  [[ $got == "$3" ]] || { echo "engines/$1/go.mod has $2 $got, versions.env pins $3" >&2; exit 1; }
}
pin kubernetes k8s.io/kubernetes "$KUBERNETES"
pin pulumi github.com/pulumi/pulumi/pkg/v3 "$PULUMI"
pin pulumi github.com/pulumi/pulumi/sdk/v3 "$PULUMI"
pin pulumi-kubernetes github.com/pulumi/pulumi-kubernetes/provider/v4 "$PULUMI_KUBERNETES"
pin pulumi-kubernetes github.com/pulumi/pulumi-kubernetes/sdk/v4 "$PULUMI_KUBERNETES_SDK"
pin pulumi-kubernetes github.com/pulumi/pulumi/sdk/v3 "$PULUMI_KUBERNETES_GO_SDK"
pin pulumi-kubernetes github.com/pulumi/pulumi/pkg/v3 "$PULUMI_KUBERNETES_GO_SDK"
abs=$(pwd)/$out
# A module's directory in the module cache, downloaded first (`go list -m` would answer an
# empty Dir on a fresh cache).
mod_dir() { go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'; }

# The four builds run side by side: each `go build` leaves a core idle while it links, and
# -s -w skips the debug tables no test reads, which roughly halves each link.
strip="-s -w"

kube() {
  echo "engines: kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $KUBERNETES"
  # The version stamps upstream's hack/lib/version.sh links in: /version answers the release.
  local minor=${KUBERNETES#v1.} ldflags=$strip pkg
  minor=${minor%%.*}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  cd engines/kubernetes && go build -trimpath -ldflags "$ldflags" -o "$abs/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl
}

pulumi_cli() {
  echo "engines: pulumi $PULUMI, its python language host and the random stand-in"
  local sdk=github.com/pulumi/pulumi/sdk/v3
  cd engines/pulumi &&
    go build -trimpath -ldflags "$strip -X $sdk/go/common/version.Version=$PULUMI" \
      -o "$abs/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi &&
    go build -trimpath -ldflags "$strip -X main.version=$PULUMI" -o "$abs/" ./cmd/pulumi-language-python &&
    go build -trimpath -ldflags "$strip" -o "$abs/" ./cmd/pulumi-resource-random &&
    install -m 0755 "$(mod_dir $sdk)/python/cmd/pulumi-language-python-exec" "$abs/"
}

provider() {
  echo "engines: pulumi-resource-kubernetes $PULUMI_KUBERNETES"
  # Upstream's build writes the embedded schema with `go generate`; the same, from the module.
  local dir version="4.25.0-alpha.0+${PULUMI_KUBERNETES##*-}"
  cd engines/pulumi-kubernetes &&
    dir=$(mod_dir github.com/pulumi/pulumi-kubernetes/provider/v4) &&
    python3 ../embed_schema.py "$dir/cmd/pulumi-resource-kubernetes" "$version" &&
    go build -trimpath -ldflags \
      "$strip -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$version" \
      -o "$abs/pulumi-resource-kubernetes" .
}

kwok() {
  echo "engines: kwok $KWOK"
  GOBIN=$abs go install -trimpath -ldflags "$strip" "sigs.k8s.io/kwok/cmd/kwok@$KWOK"
  # kwok's own "fast" stage set (kustomize/stage/fast): nodes ready and heartbeating with
  # leases, pods ready at once, Job pods completed, deleted pods removed.
  local dir f
  dir=$(mod_dir "sigs.k8s.io/kwok@$KWOK")
  for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    printf -- '---\n'; cat "$dir/kustomize/stage/$f.yaml"
  done > "$abs/kwok-stages.yaml"
}

pids=()
for step in kube pulumi_cli provider kwok; do
  ( "$step" ) & pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
[[ $failed == 0 ]] || { echo "make engines: a build failed (its error is above)" >&2; exit 1; }

echo "$sum" > "$stamp"
echo "engines: built into $out"
