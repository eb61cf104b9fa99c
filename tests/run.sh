#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what the tests
# need, builds the binaries the end-to-end tests start, then runs unit, router,
# property and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-deps.sh
cargo build --workspace --bins
cargo nextest run --workspace --no-fail-fast "$@"
