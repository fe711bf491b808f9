import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { ConfigError, messageOf } from '../errors.js';

/** A parsed configuration file: its raw content and any YAML warnings. */
export interface ConfigFile {
  readonly raw: unknown;
  readonly warnings: readonly string[];
}

function formatOf(path: string, text: string): 'JSON' | 'YAML' {
  const extension = extname(path).toLowerCase();
  if (extension === '.json') return 'JSON';
  if (extension === '.yaml' || extension === '.yml') return 'YAML';
  return /^\s*[[{]/.test(text) ? 'JSON' : 'YAML';
}

/**
 * Reads and parses a YAML or JSON file. JSON goes through the YAML parser too (YAML 1.2
 * is a superset), which reports duplicate keys and line/column positions for both.
 * Messages never quote the offending line: it may hold a DSN with a password.
 * @throws ConfigError `CONFIG_INVALID` naming the file (and `via`, the variable that named it).
 */
export async function readConfigFile(path: string, via?: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const from = via ? ` (named by ${via})` : '';
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ConfigError('CONFIG_INVALID', missing ? `configuration file not found: ${path}${from}` : `cannot read configuration file ${path}${from}: ${messageOf(error)}`, {
      cause: error,
      solutions: [missing ? 'Check the path (relative paths are resolved against the working directory)' : 'Check the file permissions'],
    });
  }
  const format = formatOf(path, text);
  const { LineCounter, parseDocument } = await import('yaml');
  const lineCounter = new LineCounter();
  const document = parseDocument(text.replace(/^\uFEFF/, ''), { lineCounter, merge: true, prettyErrors: false, uniqueKeys: true });
  const where = (offset: number | undefined) => {
    if (offset === undefined) return '';
    const { line, col } = lineCounter.linePos(offset);
    return ` at line ${line}, column ${col}`;
  };
  if (document.errors.length > 0) {
    const lines = document.errors.map((error) => `  - ${error.message}${where(error.pos[0])}`);
    throw new ConfigError('CONFIG_INVALID', [`invalid ${format} in ${path}${where(document.errors[0]?.pos[0])}:`, ...lines].join('\n'), {
      cause: document.errors[0],
    });
  }
  try {
    return {
      raw: document.toJS({ maxAliasCount: 100 }),
      warnings: document.warnings.map((warning) => `${path}${where(warning.pos[0])}: ${warning.message}`),
    };
  } catch (error) {
    throw new ConfigError('CONFIG_INVALID', `invalid ${format} in ${path}: ${messageOf(error)}`, { cause: error });
  }
}
