#!/usr/bin/env bash
# Starts a local PostgreSQL for the store tests and prints
#
#   export EXSWEEP_TEST_POSTGRES=postgres://exsweep_test:…@127.0.0.1:PORT/exsweep_test?sslmode=disable
#
# on stdout (progress goes to stderr). Use it either way:
#
#   eval "$(.ci/postgres.sh)"     # from any shell
#   source .ci/postgres.sh        # also exports the variable into the caller
#
# It runs as root on a fresh Debian machine and is idempotent: it installs
# Debian's postgresql package if no server binaries are present, starts the
# newest system cluster (creating one if none exists) and, if that cluster
# cannot be used, runs a private cluster under $EXSWEEP_PG_DIR
# (/tmp/exsweep-pg) on a free port; EXSWEEP_PG_PRIVATE=1 skips the system
# cluster. A second run reuses whatever is running.
#
# The role and database are both named exsweep_test. The password is
# $EXSWEEP_TEST_PG_PASSWORD (default exsweep_test): the server listens on
# 127.0.0.1 only, and the database holds nothing but test data.

_exsweep_pg() (
  set -euo pipefail
  log() { printf 'postgres.sh: %s\n' "$*" >&2; }
  die() { log "$*"; exit 1; }

  user=exsweep_test
  db=exsweep_test
  pw=${EXSWEEP_TEST_PG_PASSWORD:-exsweep_test}
  privdir=${EXSWEEP_PG_DIR:-/tmp/exsweep-pg}

  [ "$(id -u)" -eq 0 ] || die "must run as root (it installs and starts PostgreSQL)"
  case $pw in *[!A-Za-z0-9_.~-]*) die "EXSWEEP_TEST_PG_PASSWORD may only use A-Z a-z 0-9 _ . ~ - (it goes into a URL)";; esac

  newest_version() {
    ls /usr/lib/postgresql 2>/dev/null | grep -E '^[0-9]+$' | sort -n | tail -1
  }

  ver=$(newest_version || true)
  if [ -z "$ver" ] || [ ! -x "/usr/lib/postgresql/$ver/bin/postgres" ]; then
    log "installing postgresql (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y postgresql >&2
    ver=$(newest_version || true)
    [ -n "$ver" ] || die "apt-get installed postgresql but /usr/lib/postgresql/<version> is missing"
  fi
  bin=/usr/lib/postgresql/$ver/bin
  id postgres >/dev/null 2>&1 || die "the postgres system user is missing (broken postgresql install?)"
  as_pg() { runuser -u postgres -- "$@"; }

  # Ready means: accepts TCP connections on 127.0.0.1:$1.
  wait_ready() {
    local i
    for i in $(seq 1 60); do
      if "$bin/pg_isready" -q -h 127.0.0.1 -p "$1"; then return 0; fi
      sleep 0.5
    done
    return 1
  }

  # Both start functions print "PORT SOCKET_DIR" of a running cluster.
  # 1. The Debian system cluster (pg_ctlcluster), the normal case.
  start_system_cluster() {
    command -v pg_lsclusters >/dev/null || return 1
    # The socket directory lives on tmpfs in many images and may be gone.
    install -d -o postgres -g postgres -m 2775 /var/run/postgresql
    local name port status
    read -r name port status < <(pg_lsclusters -h | awk -v v="$ver" '$1 == v { print $2, $3, $4; exit }') || true
    if [ -z "${name:-}" ]; then
      log "creating cluster $ver/main"
      pg_createcluster "$ver" main >&2 || return 1
      read -r name port status < <(pg_lsclusters -h | awk -v v="$ver" '$1 == v { print $2, $3, $4; exit }') || return 1
    fi
    if [ "$status" != online ]; then
      log "starting cluster $ver/$name on port $port"
      pg_ctlcluster "$ver" "$name" start >&2 || return 1
    fi
    # listen_addresses defaults to localhost, and Debian's pg_hba.conf
    # allows password (scram) logins from 127.0.0.1; check rather than assume.
    wait_ready "$port" || return 1
    echo "$port /var/run/postgresql"
  }

  # 2. A private cluster in $privdir, when the system one is unusable
  # (someone else's configuration, a port taken by another server, …).
  port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
  start_private_cluster() {
    local port
    if [ ! -s "$privdir/data/PG_VERSION" ]; then
      log "initdb in $privdir"
      rm -rf "$privdir"
      install -d -o postgres -g postgres -m 0700 "$privdir"
      as_pg "$bin/initdb" -D "$privdir/data" -E UTF8 --locale=C \
        --auth-local=peer --auth-host=scram-sha-256 >&2
    fi
    if [ -s "$privdir/port" ]; then
      port=$(cat "$privdir/port")
    else
      port=55432
      while ! port_free "$port"; do
        port=$((port + 1))
        [ "$port" -lt 55532 ] || die "no free port in 55432-55531"
      done
      echo "$port" >"$privdir/port"
    fi
    if ! as_pg "$bin/pg_ctl" -D "$privdir/data" status >/dev/null 2>&1; then
      log "starting private cluster in $privdir on port $port"
      as_pg "$bin/pg_ctl" -D "$privdir/data" -l "$privdir/log" -w -t 60 \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$privdir" start >&2 ||
        die "pg_ctl start failed; see $privdir/log"
    fi
    wait_ready "$port" || die "private cluster on port $port does not answer; see $privdir/log"
    echo "$port $privdir"
  }

  if [ -s "$privdir/port" ] && as_pg "$bin/pg_ctl" -D "$privdir/data" status >/dev/null 2>&1; then
    # An earlier run fell back to the private cluster: keep using it.
    where=$(start_private_cluster)
  elif [ -z "${EXSWEEP_PG_PRIVATE:-}" ] && where=$(start_system_cluster); then
    :
  else
    [ -n "${EXSWEEP_PG_PRIVATE:-}" ] || log "the system cluster is unusable; using a private one"
    where=$(start_private_cluster)
  fi
  read -r port sock <<<"$where"

  # Role and database, created or brought back to the known password.
  # C collation: text sorts by bytes, as in SQLite, so ORDER BY agrees
  # between the two backends.
  as_pg "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -d postgres \
    -v user="$user" -v db="$db" -v pw="$pw" >&2 <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'user')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'user', :'pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I TEMPLATE template0 ENCODING %L LC_COLLATE %L LC_CTYPE %L',
              :'db', :'user', 'UTF8', 'C', 'C')
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL

  dsn="postgres://$user:$pw@127.0.0.1:$port/$db?sslmode=disable"
  # Prove the DSN works over TCP with the password before handing it out.
  PGCONNECT_TIMEOUT=10 "$bin/psql" -X -q -At "$dsn" -c 'SELECT 1' >/dev/null ||
    die "cannot log in with $user over TCP on 127.0.0.1:$port"
  log "ready: PostgreSQL $ver on 127.0.0.1:$port, database $db"
  echo "$dsn"
)

if _exsweep_pg_dsn=$(_exsweep_pg); then
  echo "export EXSWEEP_TEST_POSTGRES=$_exsweep_pg_dsn"
  # Sourced: export into the caller too.
  if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    export EXSWEEP_TEST_POSTGRES=$_exsweep_pg_dsn
  fi
  unset _exsweep_pg_dsn
  unset -f _exsweep_pg
else
  unset _exsweep_pg_dsn
  unset -f _exsweep_pg
  # return when sourced, exit when run.
  return 1 2>/dev/null || exit 1
fi
