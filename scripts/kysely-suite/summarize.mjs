// Prints the harness's result table and the tests whose outcome differs between the bare driver
// pools and dbmodule's connection.pool.
// usage: node summarize.mjs <results dir> [<logs dir>]
//   reads <engine>-<pools>.json written by reporter.cjs and, when given, the runs' <engine>-<pools>.log
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, logs] = process.argv.slice(2);
const POOLS = ['bare', 'dbmodule'];
const load = (engine, pools) => {
  const file = join(dir, `${engine}-${pools}.json`);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
};
const ENGINES = [
  ['postgres', 'PostgreSQL'],
  ['mysql', 'MySQL (MariaDB)'],
].filter(([engine]) => POOLS.some((pools) => existsSync(join(dir, `${engine}-${pools}.json`)) || (logs && existsSync(join(logs, `${engine}-${pools}.log`)))));

const rows = [['engine', 'pools', 'passing', 'failing', 'pending', 'not run', 'hook failures', 'exited']];
for (const [engine, label] of ENGINES) {
  for (const pools of POOLS) {
    const r = load(engine, pools);
    if (!r) {
      rows.push([label, pools, '-', '-', '-', '-', '-', 'no result (crashed or hung; see the log)']);
      continue;
    }
    rows.push([label, pools, r.stats.passes, r.stats.failures, r.stats.pending, r.counts['not run'], r.hookFailures, r.exited ?? 'yes']);
  }
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => String(row[i]).length)));
const line = (row) => row.map((cell, i) => String(cell).padEnd(widths[i])).join(' | ');
console.log(line(rows[0]));
console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
for (const row of rows.slice(1)) console.log(line(row));
console.log('(failing is Mocha\'s count: failed tests plus failed hooks; "not run": tests skipped because a hook failed)');

let differing = 0;
for (const [engine, label] of ENGINES) {
  const bare = load(engine, 'bare');
  const dbm = load(engine, 'dbmodule');
  if (!bare || !dbm) continue;
  const entries = [];
  const all = (kind) => new Set([...Object.keys(bare[kind]), ...Object.keys(dbm[kind])]);
  for (const kind of ['outcomes', 'hooks']) {
    for (const key of all(kind)) {
      const a = bare[kind][key] ?? (kind === 'hooks' ? 'ok' : 'absent');
      const b = dbm[kind][key] ?? (kind === 'hooks' ? 'ok' : 'absent');
      if (a !== b) entries.push({ key, a, b, error: dbm.errors[key] ?? bare.errors[key] });
    }
  }
  console.log(`\n${label}: ${entries.length} test(s)/hook(s) with a different outcome (bare -> dbmodule)`);
  for (const { key, a, b, error } of entries.sort((x, y) => x.key.localeCompare(y.key))) {
    console.log(`  - ${key}: ${a} -> ${b}`);
    if (error) console.log(error.split('\n').slice(0, 3).map((l) => `      ${l.trim()}`).join('\n'));
  }
  differing += entries.length;

  // What the suite printed besides Mocha's report (driver and dbmodule warnings, background
  // errors): lines of one run's log that the other's lacks; test lines, stack frames and Mocha's
  // failure details left out.
  if (logs) {
    const lines = (pools) => {
      const file = join(logs, `${engine}-${pools}.log`);
      if (!existsSync(file)) return new Map();
      const counts = new Map();
      for (let line of readFileSync(file, 'utf8').split('\n')) {
        // Mocha's failure details (after "N passing") are in the outcomes already
        if (/^\s+\d+ passing/.test(line)) break;
        // test lines (passed, failed, pending) and stack frames
        if (/^\s+(✔ |\d+\) |- |at )/.test(line) || !line.trim()) continue;
        line = line.replace(/ \(\d+m?s\)/g, '').replace(/\s+$/, '');
        counts.set(line, (counts.get(line) ?? 0) + 1);
      }
      return counts;
    };
    const [a, b] = POOLS.map(lines);
    for (const [from, other, pools] of [[b, a, 'dbmodule'], [a, b, 'bare']]) {
      const only = [...from].flatMap(([line, n]) => Array(Math.max(0, n - (other.get(line) ?? 0))).fill(line));
      if (only.length === 0) continue;
      console.log(`  log lines only in the ${pools} run (${only.length}):`);
      for (const line of only.slice(0, 20)) console.log(`    | ${line.length > 200 ? `${line.slice(0, 200)}...` : line}`);
      if (only.length > 20) console.log(`    | ... ${only.length - 20} more in ${join(logs, `${engine}-${pools}.log`)}`);
    }
  }
}
process.exitCode = 0;
console.log(`\n${differing} differing outcome(s) in all.`);
