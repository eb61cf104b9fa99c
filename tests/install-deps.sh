#!/usr/bin/env bash
# Installs what the end-to-end tests need on a fresh machine. Idempotent: a tool
# that is already there is not installed again.
set -euo pipefail

apt_packages=()
need() { command -v "$1" >/dev/null 2>&1 || apt_packages+=("$2"); }
need curl curl
need jq jq

if ((${#apt_packages[@]})); then
  echo "installing Debian packages: ${apt_packages[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest

# moto's S3-compatible server for the tiered-storage tests (tests/tests/tier_*.rs).
MOTO_VERSION=5.2.1
if ! python3 -c "import moto, flask, flask_cors; assert moto.__version__ == '${MOTO_VERSION}'" >/dev/null 2>&1; then
  echo "installing moto[server]==${MOTO_VERSION}"
  python3 -m pip install -q "moto[server]==${MOTO_VERSION}"
fi
