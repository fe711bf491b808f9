/** `node import-time.js <specifier>` prints how long importing one module takes in a fresh process. */

const specifier = process.argv[2] ?? '';
const target = specifier === 'dbmodule' ? '../../src/index.js' : specifier;
const started = performance.now();
await import(target);
process.stdout.write(`${JSON.stringify({ importMs: performance.now() - started })}\n`);
