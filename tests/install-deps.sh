#!/usr/bin/env bash
# Installs what the end-to-end tests need on a fresh machine. Idempotent: a tool
# that is already there is not installed again.
set -euo pipefail

apt_packages=()
need() { command -v "$1" >/dev/null 2>&1 || apt_packages+=("$2"); }
need curl curl
need jq jq
need tmux tmux

if ((${#apt_packages[@]})); then
  echo "installing Debian packages: ${apt_packages[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest
