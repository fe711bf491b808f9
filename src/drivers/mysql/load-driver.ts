import { DbModuleError } from '../../errors.js';

/** The part of the `mysql2` module dbmodule uses. */
export type Mysql2Module = typeof import('mysql2');

let loading: Promise<Mysql2Module> | undefined;

/**
 * Loads `mysql2` on first use, so applications without a MySQL connection never need it installed.
 * @throws DbModuleError `DRIVER_NOT_INSTALLED` naming the install command.
 */
export function loadMysql2(connection?: string): Promise<Mysql2Module> {
  loading ??= import('mysql2').then(
    (module) => (module.default ?? module) as Mysql2Module,
    (error: unknown) => {
      loading = undefined;
      throw new DbModuleError(
        'DRIVER_NOT_INSTALLED',
        `${connection === undefined ? '' : `connection "${connection}": `}the MySQL/MariaDB driver "mysql2" is not installed; run: npm install mysql2`,
        {
          ...(connection === undefined ? {} : { connection }),
          possibleCauses: ['mysql2 is an optional peer dependency of dbmodule and is not in node_modules'],
          solutions: ['npm install mysql2'],
          cause: error,
        },
      );
    },
  );
  return loading;
}
