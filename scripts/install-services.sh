#!/usr/bin/env bash
# Install the servers the test suite starts by itself (PostgreSQL). Idempotent.
set -euo pipefail
have_pg() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; }
if have_pg; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
echo "Installing PostgreSQL server for the test suite..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
have_pg || { echo "PostgreSQL install failed: initdb not found" >&2; exit 1; }
