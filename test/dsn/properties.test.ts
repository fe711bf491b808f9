import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDsn, redactDsn } from '../../src/dsn/index.js';

const RUNS = { numRuns: 400 };
const SPECIALS = [...'@:/?#%&= !()[]'];

/** Any code point (no lone surrogates). */
const anyText = fc.string({ unit: 'binary', minLength: 1, maxLength: 24 });
/** Mostly the characters that break naive DSN parsers, plus a few ordinary ones. */
const nastyText = fc.string({ unit: fc.constantFrom(...SPECIALS, 'a', 'B', '7', 'é'), minLength: 1, maxLength: 24 });
const passwords = fc.oneof(anyText, nastyText);

// Written raw, `%` followed by two hex digits is read as an escape (that is how encoded
// passwords work), so such text can only round-trip encoded.
const hasEscape = (text: string): boolean => /%[0-9A-Fa-f]{2}/.test(text);
const rawPassword = passwords.filter((text) => !hasEscape(text));
const rawUser = fc
  .oneof(anyText, nastyText)
  .map((text) => text.replace(/[:@/]/g, ''))
  .filter((text) => text !== '' && !hasEscape(text));

interface Form {
  readonly name: string;
  readonly driver: 'postgres' | 'mysql';
  build(user: string, password: string): string;
}

const FORMS: readonly Form[] = [
  { name: 'postgres URL', driver: 'postgres', build: (u, p) => `postgres://${u}:${p}@db.example.com:5432/mydb?sslmode=disable` },
  { name: 'mysql URL', driver: 'mysql', build: (u, p) => `mysql://${u}:${p}@db.example.com:3306/mydb` },
  { name: 'mysql Go form', driver: 'mysql', build: (u, p) => `${u}:${p}@tcp(db.example.com:3306)/mydb?parseTime=true` },
];

// The Go form starts with the user: leading blanks are trimmed away with the DSN, and a
// user named like a URL scheme followed by a `//` password reads as that URL.
const fitsForm = (form: Form, user: string, password: string): boolean =>
  form.name !== 'mysql Go form' || (user.trimStart() === user && !(/^(?:postgres|postgresql|mysql|mariadb)$/i.test(user) && password.startsWith('//')));

describe.each(FORMS)('$name', (form) => {
  it('raw user and password parse back exactly', () => {
    fc.assert(
      fc.property(rawUser, rawPassword, (user, password) => {
        fc.pre(fitsForm(form, user, password));
        const parsed = parseDsn(form.build(user, password), { driver: form.driver });
        expect(parsed.user).toBe(user);
        expect(parsed.password).toBe(password);
        expect(parsed.host).toBe('db.example.com');
        expect(parsed.database).toBe('mydb');
      }),
      RUNS,
    );
  });

  it('percent-encoded user and password parse back exactly', () => {
    fc.assert(
      fc.property(fc.oneof(anyText, nastyText), passwords, (user, password) => {
        const parsed = parseDsn(form.build(encodeURIComponent(user), encodeURIComponent(password)), { driver: form.driver });
        expect(parsed.user).toBe(user);
        expect(parsed.password).toBe(password);
        expect(parsed.host).toBe('db.example.com');
      }),
      RUNS,
    );
  });

  it('redactDsn never shows the password, raw or encoded', () => {
    fc.assert(
      fc.property(rawUser, passwords, fc.boolean(), (user, password, encoded) => {
        const written = encoded ? encodeURIComponent(password) : password;
        fc.pre(password.length >= 4 && (encoded || (!hasEscape(password) && fitsForm(form, user, password))));
        const dsn = form.build(user, written);
        const rest = form.build(user, '');
        fc.pre(!rest.includes(password) && !rest.includes(written));
        const redacted = redactDsn(dsn);
        expect(redacted).not.toContain(password);
        expect(redacted).not.toContain(written);
        expect(redacted).toContain('****');
      }),
      RUNS,
    );
  });
});

describe('PostgreSQL key/value', () => {
  const quote = (text: string): string => `'${text.replace(/[\\']/g, (char) => `\\${char}`)}'`;

  it('quoted user and password parse back exactly', () => {
    fc.assert(
      fc.property(fc.oneof(anyText, nastyText), passwords, (user, password) => {
        const parsed = parseDsn(`host=db.example.com user=${quote(user)} password=${quote(password)} dbname=mydb`);
        expect(parsed.user).toBe(user);
        expect(parsed.password).toBe(password);
        expect(parsed.database).toBe('mydb');
      }),
      RUNS,
    );
  });

  it('redactDsn never shows the password', () => {
    fc.assert(
      fc.property(passwords, (password) => {
        const dsn = `host=db.example.com user=app password=${quote(password)} dbname=mydb`;
        fc.pre(password.length >= 4 && !'host=db.example.com user=app password= dbname=mydb'.includes(password));
        expect(redactDsn(dsn)).not.toContain(password);
      }),
      RUNS,
    );
  });
});

describe('redactDsn on DSNs that do not parse', () => {
  it('hides a password that lost its host, and secret params of any DSN', () => {
    fc.assert(
      fc.property(nastyText, fc.constantFrom('postgres', 'mysql', 'redis'), (password, scheme) => {
        fc.pre(password.length >= 4 && !hasEscape(password));
        const forms = [`${scheme}://user:${password}@/db`, `${scheme}://user:${password}@`, `${scheme}://h/db?token=${encodeURIComponent(password)}`];
        for (const dsn of forms) expect(redactDsn(dsn)).not.toContain(password);
      }),
      RUNS,
    );
  });
});
