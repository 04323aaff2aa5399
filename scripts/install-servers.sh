#!/usr/bin/env bash
# Install the real servers the test suite starts: Swift + memcached + Keystone (Debian),
# rclone and the swift CLI (peers for benchmarks), Chromium (the views pages' tests), Azurite (npm).
# Idempotent; needs root for apt.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
debs=(swift swift-proxy swift-account swift-container swift-object memcached rclone
      python3-swiftclient python3-keystone python3-keystonemiddleware python3-keystoneclient attr
      chromium)
missing=()
for p in "${debs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ ! -x "$here/.servers/node_modules/.bin/azurite-blob" ]; then
  npm install --silent --no-audit --no-fund --prefix "$here/.servers" azurite@3.35.0
fi
