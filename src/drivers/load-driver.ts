import { DbModuleError } from '../errors.js';

/**
 * A memoised lazy `import()` of an optional driver package, so applications that never open a
 * connection of that kind never need it installed. A missing package becomes
 * `DRIVER_NOT_INSTALLED` with the install command, and is not memoised: installing the package
 * and retrying works without a restart. Tests pass their own `importer` (not memoised).
 */
export function createDriverLoader<M>(pkg: string, driver: string, defaultImport: () => Promise<M>): (importer?: () => Promise<M>) => Promise<M> {
  let cached: Promise<M> | undefined;
  const load = async (importer: () => Promise<M>): Promise<M> => {
    try {
      return await importer();
    } catch (error) {
      if (!isModuleNotFound(error)) throw error;
      throw new DbModuleError('DRIVER_NOT_INSTALLED', `the ${driver} driver "${pkg}" is not installed; run: npm install ${pkg}`, {
        possibleCauses: [`"${pkg}" is an optional peer dependency of dbmodule and is not in node_modules`],
        solutions: [`npm install ${pkg}`],
        cause: error,
      });
    }
  };
  return (importer) => {
    if (importer) return load(importer);
    cached ??= load(defaultImport).catch((error: unknown) => {
      cached = undefined;
      throw error;
    });
    return cached;
  };
}

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}
