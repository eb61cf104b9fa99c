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
need tmux tmux
need openssl openssl
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

# schemathesis for the OpenAPI fuzz test (tests/tests/schemathesis.rs). 3.39.16
# is the last 3.x (Python 3.8+, OpenAPI 3.0); it breaks with hypothesis releases
# from mid-2025 on ("'many' object has no attribute 'more'"), so hypothesis is
# pinned to a release it was built against.
SCHEMATHESIS_VERSION=3.39.16
HYPOTHESIS_VERSION=6.124.0
if ! python3 -c "import schemathesis, hypothesis, sys; sys.exit(schemathesis.__version__ != '$SCHEMATHESIS_VERSION' or hypothesis.__version__ != '$HYPOTHESIS_VERSION')" 2>/dev/null; then
  echo "installing schemathesis==$SCHEMATHESIS_VERSION hypothesis==$HYPOTHESIS_VERSION"
  pkgs=("schemathesis==$SCHEMATHESIS_VERSION" "hypothesis==$HYPOTHESIS_VERSION")
  python3 -m pip install -q "${pkgs[@]}" ||
    python3 -m pip install -q --break-system-packages "${pkgs[@]}"
fi

command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest

# moto's S3-compatible server for the tiered-storage tests (tests/tests/tier_*.rs).
MOTO_VERSION=5.2.1
if ! python3 -c "import moto, flask, flask_cors; assert moto.__version__ == '${MOTO_VERSION}'" >/dev/null 2>&1; then
  echo "installing moto[server]==${MOTO_VERSION}"
  python3 -m pip install -q "moto[server]==${MOTO_VERSION}"
fi
