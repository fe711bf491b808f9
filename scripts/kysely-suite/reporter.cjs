'use strict'
// Mocha reporter for the dbmodule harness: Mocha's spec output on stdout, plus a JSON record of
// every test's outcome written to $KYSELY_SUITE_RESULT when the run ends. Tests that never ran
// (their suite's "before all" hook failed) are recorded as "not run". Copied into the Kysely
// working copy by run.sh so that require('mocha') resolves to the suite's own Mocha.
const { writeFileSync } = require('node:fs')
const Mocha = require('mocha')

const EXIT_GRACE_MS = Number(process.env.KYSELY_SUITE_EXIT_GRACE_MS ?? 60_000)

class HarnessReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options)
    const keys = new WeakMap()
    const seen = new Map()
    const keyOf = (runnable) => {
      let key = keys.get(runnable)
      if (key === undefined) {
        const title = runnable.fullTitle()
        const n = (seen.get(title) ?? 0) + 1
        seen.set(title, n)
        key = n === 1 ? title : `${title} (#${n})`
        keys.set(runnable, key)
      }
      return key
    }
    const outcomes = {} // test key -> passed | failed | pending | not run
    const errors = {} // key -> first lines of the error (tests and hooks)
    const hooks = {} // failed hook key -> failed

    runner.on('start', () => {
      const walk = (suite) => {
        for (const test of suite.tests) outcomes[keyOf(test)] = 'not run'
        suite.suites.forEach(walk)
      }
      walk(runner.suite)
    })
    runner.on('pass', (test) => (outcomes[keyOf(test)] = 'passed'))
    runner.on('pending', (test) => (outcomes[keyOf(test)] = 'pending'))
    runner.on('fail', (runnable, error) => {
      const key = keyOf(runnable)
      if (runnable.type === 'hook') hooks[key] = 'failed'
      else outcomes[key] = 'failed'
      const message = String(error?.stack ?? error?.message ?? error)
      errors[key] ??= message.split('\n').slice(0, 6).join('\n')
    })
    runner.once('end', () => {
      const stats = runner.stats
      const counts = { passed: 0, failed: 0, pending: 0, 'not run': 0 }
      for (const state of Object.values(outcomes)) counts[state]++
      const result = {
        pools: process.env.KYSELY_SUITE_POOLS ?? 'bare',
        dialects: process.env.DIALECTS ?? null,
        stats: { passes: stats.passes, failures: stats.failures, pending: stats.pending, tests: stats.tests, duration: stats.duration },
        counts,
        hookFailures: Object.keys(hooks).length,
        outcomes,
        hooks,
        errors,
        exited: null,
      }
      const file = process.env.KYSELY_SUITE_RESULT
      if (file) writeFileSync(file, JSON.stringify(result, null, 1))
      // The suite must end on its own (no --exit): every pool closed, no handle left. Record it if not.
      setTimeout(() => {
        const resources = process.getActiveResourcesInfo().filter((it) => it !== 'TTYWrap')
        result.exited = `did not exit within ${EXIT_GRACE_MS} ms of the last test; active resources: ${resources.join(', ')}`
        if (file) writeFileSync(file, JSON.stringify(result, null, 1))
        console.error(`[harness] ${result.exited}; exiting`)
        process.exit(90) // Mocha's own exit handler may still replace the code
      }, EXIT_GRACE_MS).unref()
    })
  }
}

module.exports = HarnessReporter
