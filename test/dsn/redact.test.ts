import { describe, expect, it } from 'vitest';
import { isSecretParam, redactDsn } from '../../src/dsn/index.js';

describe('redactDsn', () => {
  it.each([
    ['postgres://app:hunter2@db:5432/app?sslmode=require', 'postgres://app:****@db:5432/app?sslmode=require'],
    ['postgresql://app:p@ss/w?rd@db.example.com/app', 'postgresql://app:****@db.example.com/app'],
    ['mysql://root:pw@[::1]:3306/app', 'mysql://root:****@[::1]:3306/app'],
    ['postgres://app@db/app', 'postgres://app@db/app'],
    ['postgres://db/app', 'postgres://db/app'],
    ['app:s3cret@tcp(db:3306)/app?parseTime=true', 'app:****@tcp(db:3306)/app?parseTime=true'],
    ['app@unix(/run/mysqld.sock)/app', 'app@unix(/run/mysqld.sock)/app'],
    ["host=db user=app password='a b c' dbname=app", 'host=db user=app password=**** dbname=app'],
    ['host=db password = plain dbname=app', 'host=db password = **** dbname=app'],
    ['sqlite:app.db', 'sqlite:app.db'],
    ['file:app.db?mode=ro&key=sqlcipher-secret', 'file:app.db?mode=ro&key=****'],
  ])('%s', (dsn, redacted) => {
    expect(redactDsn(dsn)).toBe(redacted);
  });

  it('secret query parameters, whatever their case or encoding', () => {
    const dsn =
      'postgres://app@db/app?password=a&PASS=b&pwd=c&token=d&secret=e&X-Amz-Signature=f&X-Amz-Security-Token=g&sslpassword=h&pass%77ord=i&sslmode=require&application_name=x';
    expect(redactDsn(dsn)).toBe(
      'postgres://app@db/app?password=****&PASS=****&pwd=****&token=****&secret=****&X-Amz-Signature=****&X-Amz-Security-Token=****&sslpassword=****&pass%77ord=****&sslmode=require&application_name=x',
    );
  });

  it('an IAM token pasted as the password', () => {
    const token =
      'db.example.com:5432/?Action=connect&DBUser=app&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20240101&X-Amz-Signature=abcdef0123&X-Amz-Security-Token=FQoGZXIvYXdzE';
    const redacted = redactDsn(`postgres://app:${token}@db.example.com:5432/app`);
    expect(redacted).toBe('postgres://app:****@db.example.com:5432/app');
  });

  describe('DSNs that do not parse: best effort, never a leak', () => {
    it.each([
      ['a password without host', 'postgres://user:s3cret/db', 'postgres://user:****/db'],
      ['a missing host', 'postgres://user:s3cret@/db', 'postgres://user:****@/db'],
      ['an unknown scheme', 'redis://:s3cret@cache:6379/0', 'redis://:****@cache:6379/0'],
      ['a bad port', 'postgres://u:s3cret@h:abc/db', 'postgres://u:****@h:****/db'],
      ['an unterminated quote', "host=h password='s3cret and more", 'host=h password=****'],
      ['a quote opened earlier', "host='h password=s3cret", "host=****"],
      ['an unquoted password with a space', 'host=h password=s3cret more words dbname=d', 'host=h password=**** **** **** dbname=d'],
      ['a Go DSN without network', 'user:s3cret@', 'user:****@'],
      ['an ambiguous empty password', 'postgres://user:@B?s3cret@@/db', 'postgres://user:****@/db'],
    ])('%s', (_name, dsn, redacted) => {
      expect(redactDsn(dsn)).toBe(redacted);
      expect(redactDsn(dsn)).not.toContain('s3cret');
    });
  });

  it('an empty or blank DSN stays empty', () => {
    expect(redactDsn('')).toBe('');
    expect(redactDsn('   ')).toBe('');
  });
});

describe('isSecretParam', () => {
  it.each(['password', 'Pass', 'passwd', 'pwd', 'token', 'access_token', 'secret', 'client_secret', 'x-amz-signature', 'X-Amz-Security-Token', 'sslpassword', 'key', 'hexkey'])(
    '%s is secret',
    (name) => {
      expect(isSecretParam(name)).toBe(true);
    },
  );

  it.each(['sslmode', 'sslkey', 'sslrootcert', 'user', 'host', 'application_name', 'x-amz-date', 'DBUser'])('%s is not secret', (name) => {
    expect(isSecretParam(name)).toBe(false);
  });
});
