/** Runs a bench process script to completion and parses the JSON line it prints. */

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Path of a compiled script in bench/processes. */
export function processScript(name: string): string {
  return fileURLToPath(new URL(`../processes/${name}.js`, import.meta.url));
}

/** `node [nodeArgs] script args`, with `env`; rejects with the child's stderr when it fails. */
export function runScript<T>(script: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; nodeArgs?: readonly string[] } = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...(options.nodeArgs ?? []), script, ...args],
      { env: options.env ?? process.env, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`${script} ${args[0] ?? ''} failed: ${error.message}\n${stderr}`));
        const line = stdout.trim().split('\n').pop() ?? '';
        try {
          resolve(JSON.parse(line) as T);
        } catch {
          reject(new Error(`${script} ${args[0] ?? ''} printed no JSON result: ${stdout.slice(-500)}\n${stderr}`));
        }
      },
    );
  });
}
