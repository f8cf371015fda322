#!/usr/bin/env bash
# Install the servers and programs the test suite starts by itself: PostgreSQL, MariaDB,
# redis-server, iproute2 (network-namespace hosts of the distributed tests), openssh-server's sshd
# (the ssh provider's tests), and Debian's
# chromium for the browser tests (Playwright drives it; Playwright's own browser download is not
# used). Idempotent and quiet: prints nothing when everything is already there. Works as root
# (no sudo needed) or via sudo.
set -euo pipefail

have_chromium() {
  [ -x /usr/bin/chromium ]
}

APT_UPDATED=""
apt_install() {
  command -v apt-get >/dev/null 2>&1 || {
    echo "install-services.sh: no apt-get; install $* yourself" >&2
    exit 1
  }
  if [ -z "$APT_UPDATED" ]; then
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

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
  echo "Installing PostgreSQL server for the test suite..."
  apt_install postgresql
  have_pg || { echo "install-services.sh: PostgreSQL install failed: initdb not found" >&2; exit 1; }
fi

# PostgreSQL refuses to run as root; the tests (tests/pg.py) run it as 'postgres' then.
if ! id -u postgres >/dev/null 2>&1; then
  need_root "creating the 'postgres' system user"
  $SUDO useradd --system --home-dir /var/lib/postgresql --shell /bin/bash --user-group postgres
fi

# MariaDB for the MySQL hook's tests (tests/mariadb.py runs it as the package's 'mysql' user).
have_mariadb() {
  command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]
}

if ! have_mariadb; then
  need_root "installing MariaDB"
  echo "Installing MariaDB server for the test suite..."
  apt_install mariadb-server
  have_mariadb || { echo "install-services.sh: MariaDB install failed: mariadbd not found" >&2; exit 1; }
fi

# MariaDB client headers and a compiler: apache-airflow-providers-mysql requires mysqlclient, which has
# no Linux wheel and builds from source (tests/providers: `tradewind providers install mysql`).
if ! pkg-config --exists libmariadb 2>/dev/null || ! command -v gcc >/dev/null 2>&1; then
  need_root "installing libmariadb-dev"
  echo "Installing the MariaDB client headers for the provider tests..."
  apt_install libmariadb-dev pkg-config gcc
fi

if ! have_chromium; then
  need_root "installing chromium"
  echo "Installing chromium for the browser tests..."
  apt_install chromium
  have_chromium || { echo "install-services.sh: chromium install failed: /usr/bin/chromium not found" >&2; exit 1; }
fi

# Redis for the Celery executor's tests (tests/redis_server.py starts a private redis-server).
if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
  need_root "installing redis-server"
  echo "Installing redis-server for the Celery tests..."
  apt_install redis-server
  command -v redis-server >/dev/null 2>&1 || { echo "install-services.sh: redis-server install failed" >&2; exit 1; }
fi

# iproute2's 'ip' for the distributed tests' network-namespace hosts (tests/netns.py).
if ! command -v ip >/dev/null 2>&1; then
  need_root "installing iproute2"
  echo "Installing iproute2 for the distributed tests..."
  apt_install iproute2
  command -v ip >/dev/null 2>&1 || { echo "install-services.sh: iproute2 install failed: ip not found" >&2; exit 1; }
fi

# OpenSSH's sshd for the ssh provider's end-to-end tests (tests/sshd.py starts a private one).
if [ ! -x /usr/sbin/sshd ]; then
  need_root "installing openssh-server"
  echo "Installing openssh-server for the ssh provider tests..."
  apt_install openssh-server
  [ -x /usr/sbin/sshd ] || { echo "install-services.sh: openssh-server install failed: /usr/sbin/sshd not found" >&2; exit 1; }
fi
