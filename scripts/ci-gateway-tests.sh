#!/usr/bin/env bash
# The gateway tests (test/runtime, test/cli) once more, on another HTTP engine or Node line
# (SPEC §10: vmc serve runs on Node 20, 22 and 24; every HTTP-layer test runs on both engines).
# Called by .ci/run after `npm test` (which runs everything on this machine's Node).
#
#   scripts/ci-gateway-tests.sh node    VMC_HTTP_ENGINE=node on this machine's Node
#   scripts/ci-gateway-tests.sh 22      on Node 22 (node-<os>-<arch>@22 from the npm registry)
#   scripts/ci-gateway-tests.sh 24      on Node 24
#
# Node binaries are installed once into .ci/.nodes (git-ignored; VMC_CI_NODES names another
# folder holding node_modules/n22 and n24). They use dist/ as built by `npm test`. No uWS build
# loads on Node 22/24 here (the trufflesuite build ships ABI 115 only; the official one needs
# glibc >= 2.38), so those runs exercise the node engine; a host where one loads runs uWS.
set -euo pipefail
cd "$(dirname "$0")/.."
TESTS=(test/runtime test/cli)
case "${1:-}" in
  node)
    echo "== gateway tests, VMC_HTTP_ENGINE=node, $(node -v)"
    VMC_HTTP_ENGINE=node npx vitest run "${TESTS[@]}"
    ;;
  22 | 24)
    major="$1"
    nodes="${VMC_CI_NODES:-.ci/.nodes}"
    bin="$nodes/node_modules/n$major/bin"
    if [[ ! -x "$bin/node" ]] || [[ "$("$bin/node" -p 'process.versions.node.split(".")[0]')" != "$major" ]]; then
      os="$(node -p 'process.platform === "win32" ? "win" : process.platform')"
      arch="$(node -p 'process.arch')"
      mkdir -p "$nodes"
      npm install --prefix "$nodes" --no-save --no-audit --no-fund --loglevel=error \
        "n22@npm:node-$os-$arch@22" "n24@npm:node-$os-$arch@24"
    fi
    echo "== gateway tests, $("$bin/node" -v)"
    PATH="$(cd "$bin" && pwd):$PATH" npx vitest run "${TESTS[@]}"
    ;;
  *)
    echo "usage: $0 node|22|24" >&2
    exit 2
    ;;
esac
