/** Memory: heap and RSS per idle pool of 10 sessions, dbmodule vs the bare driver pool. */

import { runComparison } from '../lib/child.js';
import { MYSQL_URL, PG_URL } from '../lib/databases.js';
import { bytes, ratioCell } from '../lib/format.js';
import type { MarkdownTable } from '../lib/result.js';
import { roundOrder } from '../lib/rounds.js';
import { roundSummary, summarize, type Summary } from '../lib/stats.js';
import { processScript, runScript } from '../lib/spawn.js';

interface Sample {
  heapUsed: number;
  rss: number;
  external: number;
}

const CONTENDERS = ['bare-pg', 'dbmodule-pg', 'bare-mysql', 'dbmodule-mysql'] as const;
const LABELS: Record<(typeof CONTENDERS)[number], string> = {
  'bare-pg': 'pg.Pool',
  'dbmodule-pg': 'dbmodule (PostgreSQL)',
  'bare-mysql': 'mysql2 pool',
  'dbmodule-mysql': 'dbmodule (MariaDB)',
};

runComparison(async (profile) => {
  const settings = JSON.stringify({ pgUrl: PG_URL, mysqlUrl: MYSQL_URL });
  const perPool = new Map<string, { heap: number[]; rss: number[]; firstHeap: number[]; firstRss: number[] }>(
    CONTENDERS.map((c) => [c, { heap: [], rss: [], firstHeap: [], firstRss: [] }]),
  );
  for (let round = 0; round < profile.memoryRounds; round++) {
    for (const contender of roundOrder(CONTENDERS, round)) {
      const { samples } = await runScript<{ samples: Sample[] }>(processScript('memory'), [contender, settings], { nodeArgs: ['--expose-gc'] });
      const [base, first, , last] = samples as [Sample, Sample, Sample, Sample];
      const entry = perPool.get(contender)!;
      entry.firstHeap.push(first.heapUsed - base.heapUsed);
      entry.firstRss.push(first.rss - base.rss);
      entry.heap.push((last.heapUsed - first.heapUsed) / 2);
      entry.rss.push((last.rss - first.rss) / 2);
    }
  }
  const summary = (values: number[]): Summary => roundSummary(summarize(values), 0);
  const data = Object.fromEntries(
    CONTENDERS.map((c) => {
      const e = perPool.get(c)!;
      return [c, { heapPerPool: summary(e.heap), rssPerPool: summary(e.rss), firstPoolHeap: summary(e.firstHeap), firstPoolRss: summary(e.firstRss) }];
    }),
  );
  const rows = CONTENDERS.map((c) => {
    const d = data[c]!;
    const bare = c.startsWith('dbmodule') ? perPool.get(c.replace('dbmodule', 'bare'))! : undefined;
    const e = perPool.get(c)!;
    return [
      LABELS[c],
      bytes(d.heapPerPool.median),
      bare ? ratioCell(summarize(e.heap.map((v, i) => v / bare.heap[i]!))) : '1',
      bytes(d.rssPerPool.median),
      bytes(d.firstPoolHeap.median),
      bytes(d.firstPoolRss.median),
    ];
  });
  const table: MarkdownTable = {
    title: 'Per idle pool of 10 sessions',
    columns: ['contender', 'heap per pool (median)', 'heap vs bare', 'RSS per pool (median)', 'first pool heap (incl. lazy modules)', 'first pool RSS'],
    rows,
  };
  return {
    name: 'memory',
    title: 'Memory',
    method:
      `${profile.memoryRounds} fresh process(es) per contender, interleaved. Each loads its driver, then opens three pools of 10 sessions one after another ` +
      '(all 10 opened at once, then given back: idle and full), sampling process.memoryUsage() after two forced GCs. Per pool = mean step over pools 2 and 3; the first pool also pays for lazily loaded modules.',
    tables: [table],
    checks: [],
    findings: [],
    data,
  };
});
