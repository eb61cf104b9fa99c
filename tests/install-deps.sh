#!/usr/bin/env bash
# Installs what the end-to-end tests need on a fresh machine. Idempotent: a tool
# that is already there is not installed again.
set -euo pipefail

apt_packages=()
need() { command -v "$1" >/dev/null 2>&1 || apt_packages+=("$2"); }
need curl curl
need jq jq
need kcat kcat
need python3 python3
python3 -m pip --version >/dev/null 2>&1 || apt_packages+=(python3-pip)

if ((${#apt_packages[@]})); then
  echo "installing Debian packages: ${apt_packages[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

# kafka-python for the Kafka listener's end-to-end tests (2.2.15 supports
# Python 3.11 and enable_idempotence).
KAFKA_PYTHON_VERSION=2.2.15
if ! python3 -c "import kafka, sys; sys.exit(kafka.__version__ != '$KAFKA_PYTHON_VERSION')" 2>/dev/null; then
  echo "installing kafka-python==$KAFKA_PYTHON_VERSION"
  python3 -m pip install -q "kafka-python==$KAFKA_PYTHON_VERSION" ||
    python3 -m pip install -q --break-system-packages "kafka-python==$KAFKA_PYTHON_VERSION"
fi

command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest
