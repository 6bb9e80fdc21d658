#!/usr/bin/env bash
# The MariaDB server the tests use, for scripts/test and the suites it runs. Source it (bash).
#
#   TEST_MARIADB_URL        mysql://USER[:PASSWORD]@HOST:PORT of the server to use; every test
#                           makes and drops its own database there. Unset: 127.0.0.1:3306 as root
#                           without a password, when something answers there, and otherwise
#                           a private server (below).
#   TEST_PRIVATE_MARIADB=1  always use a private server, even when one answers on 3306 (CI does,
#                           to prove this path while the machine's own server also runs).
#
# The private server is throwaway: made from the installed server (mariadb-install-db, mariadbd)
# in a fresh directory under $TMPDIR with its own data, socket, pid file and free port on
# 127.0.0.1, root without a password over TCP, the same character set and name resolution as
# Debian's configuration; private_mariadb_stop ends it and removes the directory.
#
# Run rather than sourced, it runs one command against the server the rules above choose, e.g.
#   TEST_PRIVATE_MARIADB=1 scripts/lib/test-mariadb.sh cargo test --test api register

TEST_MARIADB_DEFAULT_URL="mysql://root@127.0.0.1:3306"

# The server URL the tests use now.
test_mariadb_url() { printf '%s\n' "${TEST_MARIADB_URL:-$TEST_MARIADB_DEFAULT_URL}"; }

# The mysql client against that server: test_mariadb_sql -e 'SELECT 1' [database].
test_mariadb_sql() {
  local rest creds hostport user password="" host port
  rest="$(test_mariadb_url)"
  rest="${rest#mysql://}"
  rest="${rest%%/*}"
  creds="${rest%@*}" hostport="${rest##*@}"
  user="${creds%%:*}"
  [[ "$creds" == *:* ]] && password="${creds#*:}"
  host="${hostport%:*}" port=3306
  [[ "$hostport" == *:* ]] && port="${hostport##*:}"
  # The URL percent-encodes what a user name or password may not hold as it is.
  MYSQL_PWD="$(printf '%b' "${password//\%/\\x}")" \
    mysql --protocol=tcp -h"$host" -P"$port" -u"$(printf '%b' "${user//\%/\\x}")" "$@"
}

_tcp_answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# True when the suite needs a private server: asked for, or no URL given and nothing answering
# on the default address. (Whether what answers lets root in is test_mariadb_check's question.)
test_mariadb_wants_private() {
  [ "${TEST_PRIVATE_MARIADB:-}" = 1 ] && return 0
  [ -n "${TEST_MARIADB_URL:-}" ] && return 1
  ! _tcp_answers 127.0.0.1 3306
}

# The server binaries a private server needs, or failure when they are not installed
# (Debian's mariadb-server-core; /usr/sbin is not on every user's PATH).
_mariadbd() { command -v mariadbd 2>/dev/null || { [ -x /usr/sbin/mariadbd ] && echo /usr/sbin/mariadbd; }; }
private_mariadb_installed() { _mariadbd >/dev/null && command -v mariadb-install-db >/dev/null 2>&1; }

# Fails, saying why, unless the tests can sign in to the server at test_mariadb_url.
test_mariadb_check() {
  local out
  if ! out=$(test_mariadb_sql -e 'SELECT 1' 2>&1 >/dev/null); then
    echo "test-mariadb: cannot use the MariaDB server at $(test_mariadb_url): $out" >&2
    if [ -z "${TEST_MARIADB_URL:-}" ]; then
      echo "Set TEST_MARIADB_URL to a server the tests may use, or TEST_PRIVATE_MARIADB=1 for a private one." >&2
    fi
    return 1
  fi
}

_private_mariadb_dir="" _private_mariadb_pid=""

# Starts the private server and exports TEST_MARIADB_URL for it. Pair with private_mariadb_stop
# in an EXIT trap, set before the call: it also cleans up after a start that failed half-way.
private_mariadb_start() {
  local dir user=() port
  dir=$(mktemp -d "${TMPDIR:-/tmp}/otp-login-mariadb.XXXXXX") || return 1
  _private_mariadb_dir="$dir"
  # Run as root, the server must be told to stay root (the directory is root's).
  [ "$(id -u)" = 0 ] && user=(--user=root)
  echo "test-mariadb: starting a private MariaDB in $dir" >&2
  # 'normal': root@localhost, root@127.0.0.1 and root@::1 without a password, as on Debian's
  # server the tests were written against (and no anonymous users, no test database).
  if ! mariadb-install-db --no-defaults --datadir="$dir/data" "${user[@]}" \
    --auth-root-authentication-method=normal --skip-name-resolve --skip-test-db \
    >"$dir/install.log" 2>&1; then
    cat "$dir/install.log" >&2
    echo "test-mariadb: mariadb-install-db failed" >&2
    return 1
  fi
  # The free port is free when asked, not necessarily when mariadbd binds it: try again then.
  for _ in 1 2 3; do
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$(_mariadbd)" --no-defaults "${user[@]}" --datadir="$dir/data" \
      --socket="$dir/mariadbd.sock" --pid-file="$dir/mariadbd.pid" --log-error="$dir/error.log" \
      --bind-address=127.0.0.1 --port="$port" --skip-name-resolve \
      --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
      >>"$dir/mariadbd.out" 2>&1 </dev/null &
    _private_mariadb_pid=$!
    export TEST_MARIADB_URL="mysql://root@127.0.0.1:$port"
    for _ in $(seq 1 600); do
      if test_mariadb_sql -e 'SELECT 1' >/dev/null 2>&1; then
        echo "test-mariadb: private MariaDB answers at 127.0.0.1:$port (TEST_MARIADB_URL=$TEST_MARIADB_URL)" >&2
        return 0
      fi
      kill -0 "$_private_mariadb_pid" 2>/dev/null || break
      sleep 0.1
    done
    _private_mariadb_kill
  done
  tail -n 30 "$dir/error.log" >&2 2>/dev/null || true
  echo "test-mariadb: the private MariaDB did not start" >&2
  return 1
}

_private_mariadb_kill() {
  local pid="$_private_mariadb_pid"
  [ -n "$pid" ] || return 0
  _private_mariadb_pid=""
  kill -TERM "$pid" 2>/dev/null || return 0
  # A clean shutdown takes a second or two; a stuck one gets KILL after 30 s.
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Stops the private server, if one runs, and removes its directory. After a failed run the
# server's error log is kept in $TMPDIR/otp-login-mariadb-error.log.
private_mariadb_stop() {
  local status="${1:-0}"
  _private_mariadb_kill
  if [ -n "$_private_mariadb_dir" ]; then
    if [ "$status" -ne 0 ] && [ -s "$_private_mariadb_dir/error.log" ]; then
      cp "$_private_mariadb_dir/error.log" "${TMPDIR:-/tmp}/otp-login-mariadb-error.log" 2>/dev/null &&
        echo "test-mariadb: the private MariaDB's log: ${TMPDIR:-/tmp}/otp-login-mariadb-error.log" >&2
    fi
    rm -rf "$_private_mariadb_dir"
    echo "test-mariadb: stopped the private MariaDB and removed $_private_mariadb_dir" >&2
    _private_mariadb_dir=""
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  [ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }
  trap 'private_mariadb_stop $?' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  if test_mariadb_wants_private; then
    private_mariadb_installed || { echo "$0: the MariaDB server is not installed (mariadb-server-core)" >&2; exit 1; }
    private_mariadb_start
  fi
  test_mariadb_check
  "$@"
fi
