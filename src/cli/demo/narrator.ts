/** One expectation of a step, and whether it held. */
export interface DemoCheck {
  ok: boolean;
  what: string;
}

/** One numbered step of the demo: what happened, why, and what was expected. */
export interface DemoStep {
  step: number;
  title: string;
  ok: boolean;
  lines: string[];
  checks: DemoCheck[];
}

/**
 * Writes the demo's narrative as it happens (or only collects it, for `--json`). Every line it
 * is given is shown as is: callers never hand it a token or a secret.
 */
export class Narrator {
  readonly steps: DemoStep[] = [];
  readonly #write: ((text: string) => void) | undefined;
  #current: DemoStep | undefined;

  constructor(write: ((text: string) => void) | undefined) {
    this.#write = write;
  }

  get ok(): boolean {
    return this.steps.every((step) => step.ok);
  }

  heading(text: string): void {
    this.#write?.(`${text}\n`);
  }

  step(title: string): void {
    this.#current = { step: this.steps.length + 1, title, ok: true, lines: [], checks: [] };
    this.steps.push(this.#current);
    this.#write?.(`\n[${this.#current.step}] ${title}\n`);
  }

  say(text: string): void {
    this.#line(text);
  }

  why(text: string): void {
    this.#line(`why: ${text}`);
  }

  /** Records an expectation; a false one fails the step (and the demo). */
  expect(ok: boolean, what: string): boolean {
    const step = this.#current;
    if (step) {
      step.checks.push({ ok, what });
      if (!ok) step.ok = false;
    }
    this.#write?.(`    ${ok ? '✓' : '✗ UNEXPECTED:'} ${what}\n`);
    return ok;
  }

  /** Something threw where the step expected success. */
  fail(what: string): void {
    this.expect(false, what);
  }

  #line(text: string): void {
    this.#current?.lines.push(text);
    this.#write?.(`    ${text}\n`);
  }
}
