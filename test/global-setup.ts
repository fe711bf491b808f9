// Runs once before the suite: the shared servers' test databases and users, so `npm test` passes
// first time on a machine whose servers run (test/support/test-databases.ts).
import { prepareTestDatabases } from './support/test-databases.js';

export default async function setup(): Promise<void> {
  await prepareTestDatabases();
}
