/**
 * IAM connection storm: 100 and 500 new sessions at once through the local RDS IAM endpoint, per
 * contender: time until every session answered `SELECT 1`, tokens signed, credential resolutions.
 * PostgreSQL sessions are served by the endpoint's embedded PGlite (the real server allows 100
 * connections); MariaDB sessions are relayed to the real server, sized to what it allows.
 */

import {
  dbmoduleStorm,
  passwordStorm,
  providerStorm,
  signerStorm,
  wrapperStorm,
  type StormContender,
  type StormOutcome,
} from '../contenders/storm.js';
import { IAM_USER_PREFIX, rdsHostname, useBenchCredentialsInEnv } from '../lib/aws.js';
import { runComparison } from '../lib/child.js';
import { connectionHeadroom, upstreamUrl, waitForSessionsAtMost, type Engine } from '../lib/databases.js';
import { startEmulatorProcess } from '../lib/emulator-host.js';
import { ms } from '../lib/format.js';
import type { MarkdownTable, TargetCheck } from '../lib/result.js';
import { roundOrder } from '../lib/rounds.js';
import { roundSummary, summarize, type Summary } from '../lib/stats.js';

const STORM_SIZES = [100, 500] as const;
/** Sessions left free on the shared MariaDB for everything else using it. */
const MYSQL_SAFETY_MARGIN = 30;
const CAPPED_MAX_SIZE_QUICK = 100;
const WARMUP_SIZE = 5;

interface Cell {
  engine: Engine;
  size: number;
  contender: string;
  label: string;
  timeMs: Summary;
  signings: number[];
  credentialResolutions: number[];
}

runComparison(async (profile) => {
  useBenchCredentialsInEnv();
  const contenders: StormContender[] = [passwordStorm, signerStorm, providerStorm, dbmoduleStorm(1_000_000), dbmoduleStorm(undefined), wrapperStorm];
  const mysqlRoom = await connectionHeadroom('mysql');
  const mysqlFree = mysqlRoom.max - mysqlRoom.used - MYSQL_SAFETY_MARGIN;
  const sizes: Record<Engine, number[]> = {
    postgres: [...STORM_SIZES],
    mysql: [...new Set(STORM_SIZES.map((size) => Math.min(size, mysqlFree)))].filter((size) => size > 0),
  };
  const findings: string[] = [
    "Wrapper defect: it caches each host's detected dialect process-wide, keyed by host name without the port, so after a PostgreSQL client to localhost a MySQL client to localhost throws \"Unknown dialect code: 'pg'\"; its MySQL clients here set dialect: 'mysql' to get past it.",
  ];
  if (sizes.mysql.length < STORM_SIZES.length || sizes.mysql.some((s, i) => s !== STORM_SIZES[i])) {
    findings.push(
      `MariaDB allows ${mysqlRoom.max} connections and ${mysqlRoom.used} were in use, so its storm was sized to ${sizes.mysql.join(' and ')} (leaving ${MYSQL_SAFETY_MARGIN} free); PostgreSQL storms run against the endpoint's PGlite backend.`,
    );
  }
  const hostnames = ['localhost', ...contenders.map((c) => rdsHostname(`storm-${c.name}`))];
  const emulator = await startEmulatorProcess({
    hostnames,
    postgres: { advertisedPort: 5432 },
    mysql: { upstream: upstreamUrl('mysql'), advertisedPort: 3306 },
  });
  const outcomes = new Map<string, StormOutcome[]>();
  const key = (engine: Engine, size: number, contender: string) => `${engine}/${size}/${contender}`;
  try {
    // Unmeasured: module loading and JIT warm-up, which every contender pays once per process.
    for (const engine of ['postgres', 'mysql'] as const) {
      for (const contender of contenders) await stormOnce(engine, WARMUP_SIZE, contender, -1);
    }
    for (let round = 0; round < profile.stormRounds; round++) {
      for (const engine of ['postgres', 'mysql'] as const) {
        for (const size of sizes[engine]) {
          for (const contender of roundOrder(contenders, round)) {
            if (contender.name === 'dbmodule-capped' && profile.quick && size > CAPPED_MAX_SIZE_QUICK) continue;
            const outcome = await stormOnce(engine, size, contender, round);
            const list = outcomes.get(key(engine, size, contender.name)) ?? [];
            list.push(outcome);
            outcomes.set(key(engine, size, contender.name), list);
          }
        }
      }
    }
  } finally {
    await emulator.close();
  }

  async function stormOnce(engine: Engine, size: number, contender: StormContender, round: number): Promise<StormOutcome> {
    const baseline = engine === 'mysql' ? (await connectionHeadroom('mysql')).used : 0;
    await emulator.clearAuthLog();
    const outcome = await contender.run({
      engine,
      size,
      route: {
        kind: 'iam',
        port: (engine === 'postgres' ? emulator.postgresPort : emulator.mysqlPort)!,
        caFile: emulator.caFile,
        caPem: emulator.caPem,
        signingHost: rdsHostname(`storm-${contender.name}`),
        signingPort: engine === 'postgres' ? 5432 : 3306,
        // A user per storm: the wrapper's token cache is process-wide, and every storm must start cold.
        user: `${IAM_USER_PREFIX}_r${round < 0 ? 'w' : round}_${size}_${contender.name.replace(/-/g, '_')}`,
      },
    });
    const counts = await emulator.authCounts();
    const seen = contender.login === 'iam' ? counts.allow : counts.passthrough;
    if (seen !== size || counts.deny !== 0) {
      throw new Error(`${contender.label}, ${engine} storm of ${size}: the endpoint saw ${counts.allow} IAM logins, ${counts.passthrough} password logins, ${counts.deny} refusals`);
    }
    if (engine === 'mysql') await waitForSessionsAtMost('mysql', baseline + 5);
    return outcome;
  }

  const cells: Cell[] = [];
  for (const engine of ['postgres', 'mysql'] as const) {
    for (const size of sizes[engine]) {
      for (const contender of contenders) {
        const list = outcomes.get(key(engine, size, contender.name));
        if (!list) continue;
        cells.push({
          engine,
          size,
          contender: contender.name,
          label: contender.label,
          timeMs: roundSummary(summarize(list.map((o) => o.ms)), 1),
          signings: list.map((o) => o.signings ?? Number.NaN),
          credentialResolutions: list.map((o) => o.credentialResolutions ?? Number.NaN),
        });
      }
    }
  }
  const checks = stormChecks(cells);
  return {
    name: 'iam-storm',
    title: 'IAM connection storm',
    method:
      `${profile.stormRounds} round(s); in each, every contender opens N sessions at once from nothing (a new pool of N, or N clients) through the local RDS IAM endpoint ` +
      '(TLS verify-full, the endpoint verifies every token) and runs SELECT 1 on each; the time is until the last answer. Every storm uses a user of its own, so token caches start cold. ' +
      'The endpoint runs in its own process. Counts come from dbmodule\'s TokenState, cross-checked against a counting credential provider given to every contender; ' +
      'the endpoint\'s auth log confirms that exactly N logins were accepted and none refused. Storm times are dominated by TLS handshakes on a shared 2-core machine; compare them across rounds (range) before reading small differences.',
    tables: [table(cells, 'postgres'), table(cells, 'mysql')],
    checks,
    findings,
    data: { sizes, mysqlHeadroom: mysqlRoom, cells },
  };
});

function table(cells: readonly Cell[], engine: Engine): MarkdownTable {
  const rows = cells
    .filter((c) => c.engine === engine)
    .map((c) => {
      const wrapper = cells.find((x) => x.engine === engine && x.size === c.size && x.contender === 'wrapper');
      return [
        String(c.size),
        c.label,
        ms(c.timeMs.median, 0),
        c.timeMs.n > 1 ? `${c.timeMs.min.toFixed(0)}–${c.timeMs.max.toFixed(0)} ms` : '',
        wrapper && c.contender !== 'wrapper' ? `${(c.timeMs.median / wrapper.timeMs.median).toFixed(2)}×` : '',
        counts(c.signings),
        counts(c.credentialResolutions),
      ];
    });
  return {
    title: engine === 'postgres' ? 'PostgreSQL protocol (endpoint backed by PGlite)' : 'MariaDB (endpoint relaying to the real server)',
    columns: ['N', 'contender', 'time (median)', 'range', 'time vs wrapper', 'tokens signed', 'credential resolutions'],
    rows,
  };
}

function counts(values: readonly number[]): string {
  if (values.every(Number.isNaN)) return '–';
  const unique = [...new Set(values)];
  return unique.length === 1 ? String(unique[0]) : `${Math.min(...values)}–${Math.max(...values)}`;
}

function stormChecks(cells: readonly Cell[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  for (const cell of cells) {
    const where = `${cell.engine} N=${cell.size}`;
    if (cell.contender === 'dbmodule' || cell.contender === 'dbmodule-capped' || cell.contender === 'dbmodule-provider') {
      out.push({
        target: `${where}: ${cell.label} signs one token per refresh window`,
        passed: cell.signings.every((n) => n === 1),
        detail: `signings per storm: ${counts(cell.signings)}; credential resolutions: ${counts(cell.credentialResolutions)}`,
      });
    }
  }
  return out;
}

