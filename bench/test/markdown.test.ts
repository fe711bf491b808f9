import { describe, expect, it } from 'vitest';
import { RESULTS_END, RESULTS_START, renderTable, spliceResults } from '../lib/markdown.js';

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
