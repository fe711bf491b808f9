// Replaces the working copy's package.json with one that installs only what Kysely's node test
// suite imports (plus the tools that build and run it), at the exact versions Kysely's own
// package.json pins, and the dbmodule tarball. Kysely uses pnpm 11 (Node >= 22.13 only) and a
// workspace with its docs site; npm with this trimmed manifest runs on Node 20.
//
// usage: node make-package-json.mjs <kysely tree> <dbmodule .tgz>
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { builtinModules } from 'node:module';

const [tree, tarball] = process.argv.slice(2).map((p) => resolve(p));
const original = JSON.parse(readFileSync(join(tree, 'package.json'), 'utf8'));
const pinned = { ...original.dependencies, ...original.devDependencies };

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (/\.[cm]?[jt]s$/.test(entry.name)) yield path;
  }
}

const imported = new Set();
for (const file of files(join(tree, 'test/node/src'))) {
  const text = readFileSync(file, 'utf8');
  for (const [, spec] of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*)'([^'.][^']*)'/g)) {
    if (spec.startsWith('node:') || builtinModules.includes(spec)) continue;
    const parts = spec.split('/');
    imported.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
  }
}

// Not imported by a test, but needed to build and run the suite.
const tools = ['typescript', 'mocha', 'std-env' /* .mocharc.cjs */, '@types/node', '@types/mocha'];
const names = new Set([...imported, ...tools]);
for (const name of [...names]) {
  const types = name.startsWith('@') ? `@types/${name.slice(1).replace('/', '__')}` : `@types/${name}`;
  if (pinned[types]) names.add(types);
}

const devDependencies = {};
for (const name of [...names].sort()) {
  if (!pinned[name]) throw new Error(`${name} is imported by the node suite but not pinned in Kysely's package.json`);
  devDependencies[name] = pinned[name];
}
devDependencies.dbmodule = `file:${relative(tree, tarball)}`;

const manifest = {
  name: 'kysely',
  version: original.version,
  private: true,
  type: original.type,
  description: 'Kysely source tree trimmed for running its node test suite against dbmodule (generated)',
  devDependencies,
};
writeFileSync(join(tree, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
console.log(`package.json: ${Object.keys(devDependencies).length} dev dependencies (${[...imported].sort().join(', ')} imported by the suite)`);
