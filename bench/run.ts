/**
 * `npm run bench [-- --quick] [-- --only=name,name] [-- --cpu-prof]`: runs every comparison, each in
 * its own process, writes bench/results/latest.json and the results section of BENCHMARKS.md
 * (a run limited with --only writes bench/results/partial.json instead).
 * Exits 1 when a comparison failed to run (a missed target is reported, not an error).
 */

import { fork } from 'node:child_process';
import os from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeMachine } from './lib/machine.js';
import { placeRun } from './lib/placement.js';
import { renderRun, spliceResults, type BenchRun } from './lib/markdown.js';
import type { ComparisonResult } from './lib/result.js';
import { prepareTestDatabases } from '../test/support/test-databases.js';

interface Planned {
  readonly name: string;
  readonly script: string;
  readonly args: readonly string[];
}

const PLAN: readonly Planned[] = [
  { name: 'query-path-postgres', script: 'query-path', args: ['postgres'] },
  { name: 'query-path-mysql', script: 'query-path', args: ['mysql'] },
  { name: 'telemetry', script: 'telemetry', args: [] },
  { name: 'cluster-reads', script: 'cluster-reads', args: [] },
  { name: 'iam-storm', script: 'iam-storm', args: [] },
  { name: 'token-path', script: 'token-path', args: [] },
  { name: 'cold-start', script: 'cold-start', args: [] },
  { name: 'memory', script: 'memory', args: [] },
  { name: 'token-refresh', script: 'token-refresh', args: [] },
  { name: 'failover', script: 'failover', args: [] },
];

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const resultsDir = `${repoRoot}bench/results`;
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const cpuProfile = args.includes('--cpu-prof');

function runOne(planned: Planned): Promise<ComparisonResult> {
  const script = fileURLToPath(new URL(`./comparisons/${planned.script}.js`, import.meta.url));
  const execArgv = ['--expose-gc', ...(cpuProfile ? ['--cpu-prof', `--cpu-prof-dir=${resultsDir}/profiles/${planned.name}`] : [])];
  return new Promise((resolve, reject) => {
    const child = fork(script, [...planned.args, ...(quick ? ['--quick'] : [])], { execArgv, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    let stderr = '';
    let result: ComparisonResult | undefined;
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
    });
    child.on('message', (message: { type?: string; result?: ComparisonResult }) => {
      if (message.type === 'result') result = message.result;
    });
    child.on('exit', (code) => {
      if (result) resolve(result);
      else reject(new Error(`${planned.name} exited with code ${code}:\n${relevant(stderr)}`));
    });
  });
}

/** The child's stderr without the wrapper's repeated MaxListenersExceededWarning lines. */
function relevant(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => !/MaxListenersExceededWarning|node --trace-warnings/.test(line))
    .slice(-40)
    .join('\n');
}

const started = performance.now();
await prepareTestDatabases();
const machine = await describeMachine();
const placement = placeRun();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    placement?.restore();
    process.exit(130);
  });
}
const comparisons: ComparisonResult[] = [];
const failures: { name: string; error: string }[] = [];
for (const planned of PLAN.filter((p) => !only || only.includes(p.name))) {
  process.stdout.write(`bench: ${planned.name} ...`);
  try {
    const result = await runOne(planned);
    comparisons.push(result);
    const missed = result.checks.filter((c) => !c.passed).length;
    process.stdout.write(` ${(result.durationMs / 1000).toFixed(1)} s, ${result.checks.length - missed}/${result.checks.length} targets met\n`);
    for (const check of result.checks.filter((c) => !c.passed)) process.stdout.write(`  missed: ${check.target} (${check.detail})\n`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    failures.push({ name: planned.name, error: message });
    process.stdout.write(` FAILED\n${message}\n`);
  }
}
placement?.restore();

const run: BenchRun = {
  generatedAt: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  durationMs: Math.round(performance.now() - started),
  machine,
  loadAverageAtEnd: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
  ...(placement ? { placement: { clientCpus: placement.clientCpus, serverCpus: placement.serverCpus, servers: placement.servers } } : {}),
  comparisons,
  failures,
};
mkdirSync(resultsDir, { recursive: true });
if (only) {
  // A partial run must not replace the full picture: it goes to its own file.
  writeFileSync(`${resultsDir}/partial.json`, `${JSON.stringify(run, null, 2)}\n`);
} else {
  writeFileSync(`${resultsDir}/latest.json`, `${JSON.stringify(run, null, 2)}\n`);
  const docPath = `${repoRoot}BENCHMARKS.md`;
  let document = '';
  try {
    document = readFileSync(docPath, 'utf8');
  } catch {
    document = '# Benchmarks\n';
  }
  writeFileSync(docPath, spliceResults(document, renderRun(run)));
}
process.stdout.write(`bench: ${(run.durationMs / 1000).toFixed(1)} s; results in ${only ? 'bench/results/partial.json' : 'bench/results/latest.json and BENCHMARKS.md'}\n`);
process.exit(failures.length > 0 ? 1 : 0);
