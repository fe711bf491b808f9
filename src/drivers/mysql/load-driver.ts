import { createDriverLoader } from '../load-driver.js';

/** The part of the `mysql2` module dbmodule uses. */
export type Mysql2Module = typeof import('mysql2');

/** Loads `mysql2` on first use; `DRIVER_NOT_INSTALLED` with `npm install mysql2` when it is missing. */
export const loadMysql2 = createDriverLoader<Mysql2Module>('mysql2', 'MySQL/MariaDB', async () => {
  const module = await import('mysql2');
  return (module.default ?? module) as Mysql2Module;
});
