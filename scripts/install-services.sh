#!/usr/bin/env bash
# Install the servers the test suite starts by itself (PostgreSQL). Idempotent and quiet:
# prints nothing when everything is already there. Works as root (no sudo needed) or via sudo.
set -euo pipefail

have_pg() {
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1
}

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  fi
fi

need_root() {
  if [ "$(id -u)" != "0" ] && [ -z "$SUDO" ]; then
    echo "install-services.sh: $1 needs root; run it as root or install sudo" >&2
    exit 1
  fi
}

if ! have_pg; then
  need_root "installing PostgreSQL"
  command -v apt-get >/dev/null 2>&1 || {
    echo "install-services.sh: no apt-get; install the PostgreSQL server (initdb, pg_ctl, postgres) yourself" >&2
    exit 1
  }
  echo "Installing PostgreSQL server for the test suite..."
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  have_pg || { echo "install-services.sh: PostgreSQL install failed: initdb not found" >&2; exit 1; }
fi

# PostgreSQL refuses to run as root; the tests (tests/pg.py) run it as 'postgres' then.
if ! id -u postgres >/dev/null 2>&1; then
  need_root "creating the 'postgres' system user"
  $SUDO useradd --system --home-dir /var/lib/postgresql --shell /bin/bash --user-group postgres
fi
