#!/usr/bin/env bash
# Install the real servers the test suite starts: Swift + memcached + Keystone (Debian), rclone and
# the swift CLI (peers for benchmarks), Chromium (pages), Azurite (npm). Idempotent; root or sudo for
# apt-get. Prints one line per step; the package managers' output goes to a log shown on failure.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
log="$here/.servers/install.log"
mkdir -p "$here/.servers"
: > "$log"
quietly() {  # run "$@" with its output in the log; on failure show the log's tail
  if ! "$@" >>"$log" 2>&1; then
    echo "failed: $* (last lines of $log):" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
}
debs=(swift swift-proxy swift-account swift-container swift-object memcached rclone
      python3-swiftclient python3-keystone python3-keystonemiddleware python3-keystoneclient attr
      chromium)
missing=()
for p in "${debs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "servers: installing ${#missing[@]} Debian packages (${missing[*]}) ..."
  quietly $SUDO apt-get update -qq
  quietly env DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ ! -x "$here/.servers/node_modules/.bin/azurite-blob" ]; then
  echo "servers: installing Azurite from npm ..."
  quietly npm install --silent --no-audit --no-fund --prefix "$here/.servers" azurite@3.35.0
fi
echo "servers: ready (Swift, Keystone, memcached, Azurite, Chromium; moto and the GCS emulator come from pip)"
