#!/usr/bin/env bash
# Create the project's virtualenv. Debian's python3 lacks `venv` until python3-venv is
# installed; install it (root, or sudo) when the first attempt fails.
set -euo pipefail
PYTHON="${1:-python3}"
VENV="${2:-.venv}"
if "$PYTHON" -m venv "$VENV" 2>/dev/null; then
  exit 0
fi
rm -rf "$VENV"
version=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
echo "python$version has no working venv module; installing python$version-venv with apt..." >&2
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "python$version-venv" >/dev/null \
  || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
"$PYTHON" -m venv "$VENV"
