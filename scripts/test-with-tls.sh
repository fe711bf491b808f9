#!/usr/bin/env bash
# Runs the test suite against a private PostgreSQL and a private MariaDB that both have TLS on
# (a self-signed certificate), so a test that silently assumes a server without TLS fails here.
# The servers live in a temporary directory on their own loopback ports and are stopped and
# deleted on exit; the shared servers on 5432/3306 are not touched.
#
#   bash scripts/test-with-tls.sh                      # build, then the whole suite
#   bash scripts/test-with-tls.sh test/tls             # arguments go to `vitest run`
#   DBMODULE_SKIP_BUILD=1 bash scripts/test-with-tls.sh  # dist/ is already current
#   DBMODULE_TLS_PG_PORT=5432 DBMODULE_TLS_MYSQL_PORT=3306 unshare --net -- bash -c \
#     'ip link set lo up && bash scripts/test-with-tls.sh'   # (root) also tests what dials 5432/3306 directly
#
# Needs: openssl, PostgreSQL's initdb/pg_ctl (pg_config --bindir, or DBMODULE_PG_BIN), mariadb-install-db,
# mariadbd, mariadb-admin, psql, node. As root, PostgreSQL runs as the `postgres` user.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "test-with-tls: $*" >&2; }
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

PG_BIN=${DBMODULE_PG_BIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
PG_PORT=${DBMODULE_TLS_PG_PORT:-$(free_port)}
MY_PORT=${DBMODULE_TLS_MYSQL_PORT:-$(free_port)}
as_postgres=()
if [[ $(id -u) == 0 ]]; then as_postgres=(runuser -u postgres --); fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/dbmodule-tls-XXXXXX")
my_pid=
cleanup() {
  local rc=$?
  if [[ -f $dir/pg/data/postmaster.pid ]]; then
    "${as_postgres[@]}" "$PG_BIN/pg_ctl" -D "$dir/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1 || say "could not stop PostgreSQL (see $dir/pg/log)"
  fi
  if [[ -n $my_pid ]] && kill -0 "$my_pid" 2>/dev/null; then
    kill -TERM "$my_pid"
    wait "$my_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A self-signed certificate for localhost and 127.0.0.1, readable by both servers.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
  -keyout "$dir/server.key" -out "$dir/server.crt" >/dev/null 2>&1
chmod 600 "$dir/server.key"

# PostgreSQL: ssl=on; trust on 127.0.0.1 except dbmodule_pw, whose password is checked (as .ci/prepare-databases sets up).
mkdir -p "$dir/pg"
if [[ $(id -u) == 0 ]]; then chown postgres: "$dir/pg" "$dir/server.key" "$dir/server.crt"; chmod 755 "$dir"; fi
"${as_postgres[@]}" "$PG_BIN/initdb" -D "$dir/pg/data" -A trust -U postgres --no-sync -E UTF8 >/dev/null
cat >"$dir/pg/data/pg_hba.conf" <<'EOF'
host all dbmodule_pw 127.0.0.1/32 scram-sha-256
local all all trust
host all all 127.0.0.1/32 trust
EOF
"${as_postgres[@]}" "$PG_BIN/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/log" -w -t 30 start -o "-p $PG_PORT -k $dir/pg -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 -c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key" >/dev/null
psql_admin() { psql "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres sslmode=disable" -qAt "$@"; }
# the shared cluster also has a superuser named after the Unix user root, with its own database
psql_admin -c 'CREATE ROLE root SUPERUSER LOGIN' -c 'CREATE DATABASE root OWNER root' -c 'CREATE DATABASE dbmodule_test'
[[ $(psql "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres sslmode=require" -qAtc 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()') == t ]] \
  || { say "PostgreSQL on $PG_PORT did not accept TLS"; exit 1; }

# MariaDB: TLS on (not required), root without a password over TCP.
mkdir -p "$dir/my"
my_user=()
if [[ $(id -u) == 0 ]]; then my_user=(--user=root); fi
mariadb-install-db --no-defaults --datadir="$dir/my/data" "${my_user[@]}" --auth-root-authentication-method=normal --skip-test-db >"$dir/my/install.log" 2>&1 \
  || { cat "$dir/my/install.log" >&2; exit 1; }
mariadbd --no-defaults --datadir="$dir/my/data" --port="$MY_PORT" --bind-address=127.0.0.1 --socket="$dir/my/sock" \
  --pid-file="$dir/my/pid" "${my_user[@]}" --skip-log-bin --skip-name-resolve --innodb-flush-log-at-trx-commit=2 \
  --max-connections=300 --ssl-cert="$dir/server.crt" --ssl-key="$dir/server.key" --log-error="$dir/my/error.log" >>"$dir/my/stderr.log" 2>&1 &
my_pid=$!
for _ in $(seq 1 300); do
  mariadb-admin --no-defaults -h 127.0.0.1 -P "$MY_PORT" -uroot ping >/dev/null 2>&1 && break
  kill -0 "$my_pid" 2>/dev/null || { cat "$dir/my/error.log" >&2; say "MariaDB exited while starting"; exit 1; }
  sleep 0.1
done
mariadb() { command mariadb --no-defaults -h 127.0.0.1 -P "$MY_PORT" -uroot "$@"; }
mariadb -e 'CREATE DATABASE dbmodule_test'
[[ -n $(mariadb --ssl -N -e "SHOW SESSION STATUS LIKE 'Ssl_cipher'" | cut -f2) ]] \
  || { say "MariaDB on $MY_PORT did not accept TLS"; exit 1; }
unset -f mariadb

say "PostgreSQL (ssl=on) on 127.0.0.1:$PG_PORT, MariaDB (TLS on) on 127.0.0.1:$MY_PORT, in $dir"
if [[ -z ${DBMODULE_SKIP_BUILD:-} ]]; then npm run build --silent; fi
export DBMODULE_TEST_PG_URL="postgresql://postgres@127.0.0.1:$PG_PORT/dbmodule_test?sslmode=disable"
export DBMODULE_TEST_MYSQL_URL="mysql://root@127.0.0.1:$MY_PORT/dbmodule_test"
set +e
npx vitest run "$@"
status=$?
set -e
exit "$status"
