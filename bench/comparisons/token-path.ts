/**
 * Token path: a token from dbmodule's warm cache, and a cold signing (cache invalidated), vs
 * calling @aws-sdk/rds-signer directly (which signs on every call). No database involved.
 * Every contender's token is verified the way RDS verifies it before anything is timed.
 */

import { Signer } from '@aws-sdk/rds-signer';
import { KeyRegistry } from '../../src/emulator/key-registry.js';
import { verifyIamToken } from '../../src/emulator/sigv4-verify.js';
import { createIamTokenProvider } from '../../src/iam/index.js';
import { silentLogger } from '../../src/logging.js';
import { BENCH_CREDENTIALS, BENCH_REGION, rdsHostname } from '../lib/aws.js';
import { runComparison } from '../lib/child.js';
import { mark, ratioCell } from '../lib/format.js';
import type { TargetCheck } from '../lib/result.js';
import { compareThroughput, localContender } from '../lib/rounds.js';

const HOST = rdsHostname('token');
const PORT = 5432;
const USER = 'bench_iam_token';

runComparison(async (profile) => {
  const signer = new Signer({ hostname: HOST, port: PORT, region: BENCH_REGION, username: USER, credentials: BENCH_CREDENTIALS });
  const warm = createIamTokenProvider({ host: HOST, port: PORT, user: USER, credentials: BENCH_CREDENTIALS, logger: silentLogger });
  const cold = createIamTokenProvider({ host: HOST, port: PORT, user: USER, credentials: BENCH_CREDENTIALS, logger: silentLogger });
  try {
    for (const [label, token] of [
      ['rds-signer', await signer.getAuthToken()],
      ['dbmodule warm', await warm.getToken()],
      ['dbmodule cold', await cold.getToken()],
    ] as const) {
      assertValid(label, token);
    }
    const warmSignsBefore = warm.state().signCount;
    const coldSignsBefore = cold.state().signCount;
    let coldCalls = 0;
    let warmCalls = 0;
    const stats = await compareThroughput({
      contenders: [
        localContender('rds-signer', '@aws-sdk/rds-signer getAuthToken()', () => signer.getAuthToken()),
        localContender('dbmodule-warm', 'dbmodule getToken(), warm cache', () => {
          warmCalls += 1;
          return warm.getToken();
        }),
        localContender('dbmodule-cold', 'dbmodule invalidate() + getToken() (cold signing)', () => {
          coldCalls += 1;
          cold.invalidate();
          return cold.getToken();
        }),
      ],
      baseline: 'rds-signer',
      concurrency: 1,
      rounds: profile.tokenRounds,
      sliceMs: profile.tokenSliceMs,
      slices: 2,
      warmupMs: profile.tokenSliceMs,
    });
    const warmSigns = warm.state().signCount - warmSignsBefore;
    const coldSigns = cold.state().signCount - coldSignsBefore;
    const byName = new Map(stats.map((s) => [s.name, s]));
    const perOp = (name: string) => 1e6 / byName.get(name)!.opsPerSecond.median;
    const checks: TargetCheck[] = [
      { target: 'warm cache never signs', passed: warmSigns === 0, detail: `${warmCalls} getToken() calls, ${warmSigns} signings` },
      { target: 'cold path signs once per call', passed: coldSigns === coldCalls, detail: `${coldCalls} calls, ${coldSigns} signings` },
      {
        target: 'warm token cheaper than an rds-signer call',
        passed: byName.get('dbmodule-warm')!.throughputRatio.median > 1,
        detail: `${perOp('dbmodule-warm').toFixed(2)} µs vs ${perOp('rds-signer').toFixed(2)} µs per token`,
      },
    ];
    return {
      name: 'token-path',
      title: 'Token path',
      method:
        `One caller, ${profile.tokenRounds} rounds of ${profile.tokenSliceMs} ms per contender in alternating slices. Static credentials, so no ` +
        'credential lookup leaves the process; each contender\'s token is first verified like RDS verifies it (SigV4 signature, host, user, region, expiry).',
      tables: [
        {
          title: 'Cost of one token',
          columns: ['contender', 'µs per token (median)', 'tokens/s vs rds-signer: median (IQR)', 'client CPU/token', 'signings'],
          rows: stats.map((s) => [
            s.label,
            (1e6 / s.opsPerSecond.median).toFixed(2),
            s.name === 'rds-signer' ? '1' : ratioCell(s.throughputRatio),
            `${s.cpuMicrosPerOp.median.toFixed(2)} µs`,
            s.name === 'rds-signer' ? 'every call' : s.name === 'dbmodule-warm' ? `${warmSigns} in ${warmCalls} calls` : `${coldSigns} in ${coldCalls} calls`,
          ]),
          notes: checks.map((c) => `${c.target}: ${mark(c.passed)} (${c.detail})`),
        },
      ],
      checks,
      findings: [],
      data: { stats, warmSigns, warmCalls, coldSigns, coldCalls },
    };
  } finally {
    warm.close();
    cold.close();
  }
});

/** The token must pass the checks RDS makes, or timing it means nothing. */
function assertValid(label: string, token: string): void {
  const verdict = verifyIamToken(token, {
    user: USER,
    region: BENCH_REGION,
    acceptsHost: (hostname, port) => hostname === HOST && port === PORT,
    now: Date.now(),
    clockSkewSeconds: 300,
    keys: new KeyRegistry([BENCH_CREDENTIALS]),
  });
  if (!verdict.ok) throw new Error(`${label}: token refused (${verdict.reason}: ${verdict.detail})`);
}
