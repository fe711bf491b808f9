/**
 * Cold start: from process start to the first query result, each launch a fresh node process.
 * dbmodule vs bare pg and mysql2 without IAM, and with IAM (through the local RDS IAM endpoint,
 * credentials from the AWS SDK default chain) vs pg plus @aws-sdk/rds-signer. Also proves that a
 * process using dbmodule without IAM loads no AWS SDK module (and, as a control, that one with IAM does).
 */

import { IAM_USER_PREFIX, rdsHostname, useBenchCredentialsInEnv } from '../lib/aws.js';
import { runComparison } from '../lib/child.js';
import { MYSQL_URL, PG_URL, serverAddress, upstreamUrl } from '../lib/databases.js';
import { startEmulatorProcess } from '../lib/emulator-host.js';
import { mark, ms, ratioCell } from '../lib/format.js';
import type { MarkdownTable, TargetCheck } from '../lib/result.js';
import { roundOrder } from '../lib/rounds.js';
import { roundSummary, summarize, type Summary } from '../lib/stats.js';
import { processScript, runScript } from '../lib/spawn.js';

const PAIRS = [
  { contender: 'dbmodule-pg', baseline: 'bare-pg', label: 'PostgreSQL, no IAM', baseLabel: 'pg.Pool', ourLabel: 'dbmodule' },
  { contender: 'dbmodule-mysql', baseline: 'bare-mysql', label: 'MariaDB, no IAM', baseLabel: 'mysql2 pool', ourLabel: 'dbmodule' },
  { contender: 'dbmodule-iam-pg', baseline: 'signer-pg', label: 'PostgreSQL with IAM', baseLabel: 'pg.Pool + rds-signer', ourLabel: 'dbmodule' },
] as const;
const IMPORTS = ['pg', 'mysql2', 'valibot', 'yaml', '@aws-sdk/rds-signer', 'dbmodule'] as const;

runComparison(async (profile) => {
  const env = { ...process.env };
  useBenchCredentialsInEnv(env);
  const signingHost = rdsHostname('coldstart');
  const emulator = await startEmulatorProcess({ hostnames: ['localhost', signingHost], postgres: { upstream: upstreamUrl('postgres'), advertisedPort: 5432 } });
  const settings = JSON.stringify({
    pgUrl: PG_URL,
    mysqlUrl: MYSQL_URL,
    iam: { port: emulator.postgresPort, caFile: emulator.caFile, caPem: emulator.caPem, signingHost, user: `${IAM_USER_PREFIX}_cold`, database: serverAddress('postgres').database },
  });
  const script = processScript('cold-start');
  const contenders = PAIRS.flatMap((p) => [p.baseline, p.contender]);
  const times = new Map<string, number[]>(contenders.map((c) => [c, []]));
  const imports = new Map<string, number[]>(IMPORTS.map((m) => [m, []]));
  let audits: Record<string, string[]>;
  try {
    // One unmeasured launch each, so every contender starts from the same warm file cache.
    for (const contender of contenders) await runScript(script, [contender, settings], { env });
    for (let round = 0; round < profile.coldStartRounds; round++) {
      for (const contender of roundOrder(contenders, round)) {
        const { firstResultMs } = await runScript<{ firstResultMs: number }>(script, [contender, settings], { env });
        times.get(contender)!.push(firstResultMs);
      }
      for (const specifier of roundOrder(IMPORTS, round)) {
        const { importMs } = await runScript<{ importMs: number }>(processScript('import-time'), [specifier], { env });
        imports.get(specifier)!.push(importMs);
      }
    }
    audits = {};
    for (const contender of ['dbmodule-pg', 'dbmodule-mysql', 'dbmodule-iam-pg']) {
      const { awsModules } = await runScript<{ awsModules: string[] }>(script, [contender, settings, '--audit'], { env });
      audits[contender] = awsModules;
    }
  } finally {
    await emulator.close();
  }

  const rows: string[][] = [];
  const summaries: Record<string, { firstResultMs: Summary; ratio?: Summary }> = {};
  for (const pair of PAIRS) {
    const base = times.get(pair.baseline)!;
    const ours = times.get(pair.contender)!;
    const ratio = roundSummary(summarize(ours.map((t, i) => t / base[i]!)));
    summaries[pair.baseline] = { firstResultMs: roundSummary(summarize(base), 1) };
    summaries[pair.contender] = { firstResultMs: roundSummary(summarize(ours), 1), ratio };
    rows.push([pair.label, pair.baseLabel, ms(summaries[pair.baseline]!.firstResultMs.median, 0), '1']);
    rows.push([pair.label, pair.ourLabel, ms(summaries[pair.contender]!.firstResultMs.median, 0), ratioCell(ratio)]);
  }
  const importSummaries = Object.fromEntries(IMPORTS.map((m) => [m, roundSummary(summarize(imports.get(m)!), 1)]));
  const checks: TargetCheck[] = [
    { target: 'no AWS SDK module loaded without IAM (PostgreSQL)', passed: audits['dbmodule-pg']!.length === 0, detail: `${audits['dbmodule-pg']!.length} AWS modules` },
    { target: 'no AWS SDK module loaded without IAM (MariaDB)', passed: audits['dbmodule-mysql']!.length === 0, detail: `${audits['dbmodule-mysql']!.length} AWS modules` },
    {
      target: 'control: the audit sees the AWS SDK when IAM is used',
      passed: audits['dbmodule-iam-pg']!.length > 0,
      detail: `${audits['dbmodule-iam-pg']!.length} AWS modules, e.g. ${shortName(audits['dbmodule-iam-pg']![0])}`,
    },
  ];
  const tables: MarkdownTable[] = [
    {
      title: 'Process start to first query result',
      columns: ['case', 'contender', 'time (median)', 'vs bare: median (IQR)'],
      rows,
      notes: checks.map((c) => `${c.target}: ${mark(c.passed)} (${c.detail})`),
    },
    {
      title: 'Import time of single modules (fresh process each)',
      columns: ['module', 'import (median)'],
      rows: IMPORTS.map((m) => [m === 'dbmodule' ? 'dbmodule (index)' : m, ms(importSummaries[m]!.median, 1)]),
    },
  ];
  return {
    name: 'cold-start',
    title: 'Cold start',
    method:
      `${profile.coldStartRounds} launches per contender, interleaved, after one unmeasured launch each; the time is performance.now() (ms since process start) when the first SELECT 1 answered. ` +
      'Everything is imported after the clock starts, as an application would. The module audit records every module resolved (a module.register resolve hook) and every CommonJS module (require.cache).',
    tables,
    checks,
    findings: [],
    data: { times: summaries, imports: importSummaries, audits },
  };
});

function shortName(url: string | undefined): string {
  return url?.replace(/^.*node_modules\//, '') ?? '-';
}
