#!/usr/bin/env bash
# Runs Kysely's own node test suite against PostgreSQL and MySQL (MariaDB here) twice per engine:
# with Kysely's bare driver pools (pg.Pool, mysql2 createPool) and with dbmodule's
# `connection.pool` swapped in (only Kysely's test/node/src/test-setup.ts differs), then prints
# pass/fail/pending per engine x pools and the tests whose outcome differs. See README.md.
#
#   bash scripts/kysely-suite/run.sh
#
# Everything happens in $KYSELY_SUITE_WORK (default /tmp/dbmodule-kysely-suite), rebuilt on each
# run; the only state kept elsewhere is the `kysely` role/user and `kysely_test` database the
# suite expects, created on the servers below if missing.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DBMODULE_DIR=$(cd "${DBMODULE_DIR:-$HERE/../..}" && pwd)
WORK=${KYSELY_SUITE_WORK:-/tmp/dbmodule-kysely-suite}
KYSELY_GIT_DIR=${KYSELY_GIT_DIR:-/work/.mirror/kysely-org+kysely/repo}
# The newest master commit of the mirror when this harness was written (package.json 0.29.5):
# used when the mirror has no tag for the kysely version dbmodule installs.
PINNED_COMMIT=478ec67b2de2568f5590a015d3e120644e81bd87
ENGINES=${KYSELY_SUITE_ENGINES:-postgres mysql}
POOLS=${KYSELY_SUITE_POOLS_LIST:-bare dbmodule}
RUN_TIMEOUT=${KYSELY_SUITE_RUN_TIMEOUT:-1800} # seconds, per Mocha run
PG_HOST=127.0.0.1 PG_PORT=5432 PG_ADMIN_USER=${PG_ADMIN_USER:-postgres}
MYSQL_HOST=127.0.0.1 MYSQL_PORT=3306 MYSQL_ADMIN_USER=${MYSQL_ADMIN_USER:-root}
export DBMODULE_LOG_LEVEL=${DBMODULE_LOG_LEVEL:-warn}

step() { printf '\n== %s\n' "$*"; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

step "preflight"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || die "Node >= 20 needed ($(node -v))"
command -v psql >/dev/null || die "psql not found"
MYSQL_CLIENT=$(command -v mariadb || command -v mysql) || die "mariadb/mysql client not found"
git --git-dir="$KYSELY_GIT_DIR" rev-parse --git-dir >/dev/null 2>&1 ||
  die "no Kysely git dir at $KYSELY_GIT_DIR (fetch github:kysely-org/kysely, or set KYSELY_GIT_DIR)"
echo "node $(node -v), npm $(npm -v), dbmodule at $DBMODULE_DIR, work dir $WORK"

# --- which Kysely -------------------------------------------------------------------------
KYSELY_VERSION=$(node -p "require('$DBMODULE_DIR/node_modules/kysely/package.json').version" 2>/dev/null || echo none)
if [[ -n "${KYSELY_REF:-}" ]]; then
  REF=$KYSELY_REF WHY="KYSELY_REF"
elif git --git-dir="$KYSELY_GIT_DIR" rev-parse -q --verify "refs/tags/v$KYSELY_VERSION" >/dev/null; then
  REF="v$KYSELY_VERSION" WHY="tag of the installed kysely $KYSELY_VERSION"
elif git --git-dir="$KYSELY_GIT_DIR" rev-parse -q --verify "refs/tags/$KYSELY_VERSION" >/dev/null; then
  REF="$KYSELY_VERSION" WHY="tag of the installed kysely $KYSELY_VERSION"
else
  REF=$PINNED_COMMIT WHY="no tag for the installed kysely $KYSELY_VERSION in the mirror; pinned commit"
fi
COMMIT=$(git --git-dir="$KYSELY_GIT_DIR" rev-parse --verify "$REF^{commit}") || die "unknown ref $REF"
SOURCE_VERSION=$(git --git-dir="$KYSELY_GIT_DIR" show "$COMMIT:package.json" | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).version')
echo "kysely source: $REF = $COMMIT (package.json $SOURCE_VERSION; $WHY)"

rm -rf "$WORK"
mkdir -p "$WORK/pack" "$WORK/logs" "$WORK/results"
TREE=$WORK/kysely

# --- dbmodule, built and packed ---------------------------------------------------------------
step "build and pack dbmodule"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$DBMODULE_DIR" && npm run build) >"$WORK/logs/dbmodule-build.log" 2>&1 ||
    { cat "$WORK/logs/dbmodule-build.log"; die "dbmodule build failed"; }
fi
TARBALL=$(cd "$DBMODULE_DIR" && npm pack --pack-destination "$WORK/pack" 2>"$WORK/logs/dbmodule-pack.log" | tail -n 1)
TARBALL=$WORK/pack/$TARBALL
[[ -f "$TARBALL" ]] || { cat "$WORK/logs/dbmodule-pack.log"; die "npm pack produced no tarball"; }
echo "dbmodule $(cd "$DBMODULE_DIR" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$DBMODULE_DIR" && [[ -n "$(git status --porcelain -- src 2>/dev/null)" ]] && echo ' + uncommitted src changes'), packed: $TARBALL"

# --- the databases Kysely's docker-compose.yml would create, on our servers -----------------
step "databases (kysely / kysely_test, as in Kysely's docker-compose.yml and test/scripts/mysql-init.sql)"
psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_ADMIN_USER" -d postgres -v ON_ERROR_STOP=1 -q <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kysely') THEN
    -- the postgres image makes POSTGRES_USER a superuser
    CREATE ROLE kysely LOGIN SUPERUSER PASSWORD 'kysely';
  END IF;
END $$;
SELECT 'CREATE DATABASE kysely_test OWNER kysely'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'kysely_test')\gexec
SQL
"$MYSQL_CLIENT" -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_ADMIN_USER" ${MYSQL_ADMIN_PASSWORD:+-p"$MYSQL_ADMIN_PASSWORD"} <<'SQL'
CREATE USER IF NOT EXISTS 'kysely'@'%' IDENTIFIED BY 'kysely';
GRANT ALL ON *.* TO 'kysely'@'%';
CREATE DATABASE IF NOT EXISTS kysely_test;
SQL
echo "postgres://kysely@$PG_HOST:$PG_PORT/kysely_test and mysql://kysely@$MYSQL_HOST:$MYSQL_PORT/kysely_test ready"

# --- Kysely's tree, patched -------------------------------------------------------------------
step "extract Kysely $COMMIT and patch test-setup.ts"
PATHS=(package.json tsconfig.json tsconfig-base.json .mocharc.cjs src test/node)
mkdir -p "$TREE"
git --git-dir="$KYSELY_GIT_DIR" archive --format=tar "$COMMIT" -- "${PATHS[@]}" 2>"$WORK/logs/git-archive.log" | tar -x -C "$TREE"
# the mirror may lack some blobs: make sure every file of those paths arrived
missing=$(git --git-dir="$KYSELY_GIT_DIR" ls-tree -r --name-only "$COMMIT" -- "${PATHS[@]}" |
  while read -r f; do [[ -e "$TREE/$f" ]] || echo "$f"; done)
[[ -z "$missing" ]] || die "files missing from the extracted tree: $missing"
for p in "$HERE/01-local-servers.patch" "$HERE/02-dbmodule-pools.patch"; do
  patch -d "$TREE" -p1 --forward --no-backup-if-mismatch -s <"$p" || die "$(basename "$p") does not apply to $COMMIT"
done
git --git-dir="$KYSELY_GIT_DIR" show "$COMMIT:test/node/src/test-setup.ts" |
  diff -u --label a/test/node/src/test-setup.ts --label b/test/node/src/test-setup.ts - "$TREE/test/node/src/test-setup.ts" >"$WORK/test-setup.diff" || true
echo "test-setup.ts patched: $(grep -c '^[-+][^-+]' "$WORK/test-setup.diff") changed lines (diff in $WORK/test-setup.diff)"
cp "$HERE/reporter.cjs" "$TREE/reporter.cjs"

# --- dependencies -----------------------------------------------------------------------------
step "install the node suite's dependencies (npm; Kysely's pinned versions)"
node "$HERE/make-package-json.mjs" "$TREE" "$TARBALL"
# --ignore-scripts: better-sqlite3 (imported by test-setup, unused without the sqlite dialect)
# would try to download or compile its addon. --legacy-peer-deps: Kysely pins better-sqlite3 13,
# outside dbmodule's optional peer range ^12; pg and mysql2 are top-level packages either way.
(cd "$TREE" && npm install --ignore-scripts --legacy-peer-deps --no-audit --no-fund --prefer-offline) \
  >"$WORK/logs/npm-install.log" 2>&1 || { tail -n 40 "$WORK/logs/npm-install.log"; die "npm install failed"; }
tail -n 1 "$WORK/logs/npm-install.log"

# dbmodule's `import('pg')` / `import('mysql2')` must reach the copies the tests import.
(cd "$TREE" && node --input-type=module - <<'JS')
import { createRequire } from 'node:module'
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { dirname, join } from 'node:path'
const packageRoot = (file, name) => {
  for (let dir = dirname(realpathSync(file)); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === name) return dir
  }
  throw new Error(`no package root for ${file}`)
}
const fromTests = createRequire(join(process.cwd(), 'test/node/src/test-setup.ts'))
const dbmodule = packageRoot(fromTests.resolve('dbmodule'), 'dbmodule')
const fromDbmodule = createRequire(join(dbmodule, 'dist/index.js'))
for (const name of ['pg', 'mysql2']) {
  const a = packageRoot(fromTests.resolve(name), name)
  const b = packageRoot(fromDbmodule.resolve(name), name)
  if (a !== b) throw new Error(`two copies of ${name}: the tests load ${a}, dbmodule loads ${b}`)
  const { version } = JSON.parse(readFileSync(join(a, 'package.json'), 'utf8'))
  console.log(`one ${name} ${version} for the tests and dbmodule: ${a}`)
}
JS

# --- build Kysely and its node tests (Kysely's `pnpm build` is tsc plus doc scripts) ---------
step "build Kysely (tsc) and its node tests (tsc -p test/node)"
(cd "$TREE" && ./node_modules/.bin/tsc && ./node_modules/.bin/tsc -p test/node) >"$WORK/logs/tsc.log" 2>&1 ||
  { cat "$WORK/logs/tsc.log"; die "tsc failed"; }
echo "typescript $(cd "$TREE" && ./node_modules/.bin/tsc --version)"

# --- the runs ----------------------------------------------------------------------------------
# As Kysely's `test:node:run` (mocha --timeout 15000 test/node/dist/**/*.test.js), one dialect at a
# time via its DIALECTS variable, with the harness reporter (spec output + JSON outcomes).
status=0
for engine in $ENGINES; do
  for pools in $POOLS; do
    step "$engine, $pools pools"
    log=$WORK/logs/$engine-$pools.log result=$WORK/results/$engine-$pools.json
    start=$(date +%s)
    rc=0
    (cd "$TREE" && env -u TEST_TRANSFORMER DIALECTS="$engine" KYSELY_SUITE_POOLS="$pools" KYSELY_SUITE_RESULT="$result" \
      timeout --kill-after=30 "$RUN_TIMEOUT" ./node_modules/.bin/mocha --timeout 15000 --reporter ./reporter.cjs \
      'test/node/dist/**/*.test.js') >"$log" 2>&1 || rc=$?
    seconds=$(($(date +%s) - start))
    if [[ -f "$result" ]]; then
      node -e '
        const r = require(process.argv[1]);
        console.log(`${r.stats.passes} passing, ${r.stats.failures} failing, ${r.stats.pending} pending, ${r.counts["not run"]} not run; mocha exit ${process.argv[2]}; ${process.argv[3]} s${r.exited ? "; " + r.exited : ""}`)
      ' "$result" "$rc" "$seconds"
      grep -h '^\[harness\]' "$log" || true
    else
      echo "no result (mocha exit $rc after ${seconds}s); last lines of $log:"
      tail -n 20 "$log"
      status=2
    fi
  done
done

# nothing left connected (the suite ends its pools; dbmodule's are closed by the patched setup)
step "sessions left on the servers by the suite"
echo "postgres: $(psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_ADMIN_USER" -d postgres -Atc "select count(*) from pg_stat_activity where usename = 'kysely'")," \
  "mysql: $("$MYSQL_CLIENT" -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_ADMIN_USER" ${MYSQL_ADMIN_PASSWORD:+-p"$MYSQL_ADMIN_PASSWORD"} -Nse "select count(*) from information_schema.processlist where user = 'kysely'")"

step "summary (Kysely $SOURCE_VERSION @ ${COMMIT:0:12}; logs in $WORK/logs, outcomes in $WORK/results)"
node "$HERE/summarize.mjs" "$WORK/results" "$WORK/logs" | tee "$WORK/summary.txt"
exit $status
