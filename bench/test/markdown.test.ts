import { describe, expect, it } from 'vitest';
import { RESULTS_END, RESULTS_START, renderComparison, renderRun, renderTable, spliceResults } from '../lib/markdown.js';
import type { ComparisonResult } from '../lib/result.js';

describe('spliceResults', () => {
  it('replaces only the generated section', () => {
    const doc = `# T\n\nintro\n\n${RESULTS_START}\nold\n${RESULTS_END}\n\ntail\n`;
    const next = spliceResults(doc, `${RESULTS_START}\nnew\n${RESULTS_END}`);
    expect(next).toBe(`# T\n\nintro\n\n${RESULTS_START}\nnew\n${RESULTS_END}\n\ntail\n`);
  });

  it('appends a section to a document without one', () => {
    expect(spliceResults('# T\n', 'R')).toBe('# T\n\n## Results\n\nR\n');
  });
});

describe('renderTable', () => {
  it('escapes pipes so a label cannot break the table', () => {
    const text = renderTable({ title: 't', columns: ['a', 'b'], rows: [["plugins '' | x", '1']] });
    expect(text.split('\n')[4]).toBe("| plugins '' \\| x | 1 |");
  });
});

describe('renderComparison', () => {
  const comparison: ComparisonResult = {
    name: 'c',
    title: 'A comparison',
    method: 'How.',
    durationMs: 1,
    tables: [{ title: 't', columns: ['a'], rows: [['1']] }],
    checks: [],
    findings: ['found'],
    data: {},
  };

  it('is the section renderRun writes for the comparison', () => {
    const run = renderRun({
      generatedAt: 'now',
      mode: 'quick',
      durationMs: 1000,
      machine: { cpu: 'cpu', cores: 2, memoryGiB: 1, os: 'os', node: 'v20', postgres: 'pg', mariadb: 'maria', loadAverageAtStart: 0 },
      comparisons: [comparison],
      failures: [],
    });
    expect(renderComparison(comparison)).toBe('### A comparison\n\nHow.\n\n**t**\n\n| a |\n| --- |\n| 1 |\n\n- found\n');
    expect(run).toContain(`\n${renderComparison(comparison)}\n${RESULTS_END}`);
  });
});
