import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** A DSN whose password must never show up in a message, log or printed config. */
export const SECRET = 's3cr3t-pw';
export const PG_DSN = `postgresql://app:${SECRET}@db.example.com:5432/app`;
export const MYSQL_DSN = `mysql://app:${SECRET}@db.example.com:3306/app`;
export const SQLITE_DSN = 'sqlite:/var/lib/app/app.db';

/** A scratch directory per test file, removed after the file's tests. */
export async function scratch(): Promise<{ dir: string; write(name: string, text: string): Promise<string> }> {
  const dir = await mkdtemp(join(tmpdir(), 'dbmodule-config-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  return {
    dir,
    async write(name, text) {
      const path = join(dir, name);
      await writeFile(path, text);
      return path;
    },
  };
}

/** Indents every line of `text` by `spaces`. */
export function indent(text: string, spaces: number): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? line : `${' '.repeat(spaces)}${line}`))
    .join('\n');
}
