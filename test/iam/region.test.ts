import { describe, expect, it } from 'vitest';
import { isLoopbackOrIp, regionFromHostname, resolveRegion } from '../../src/iam/region.js';

describe('regionFromHostname', () => {
  it.each([
    ['mydb.c9akciq32.us-east-1.rds.amazonaws.com', 'us-east-1'],
    ['mydb.cluster-c9akciq32.eu-west-2.rds.amazonaws.com', 'eu-west-2'],
    ['mydb.cluster-ro-c9akciq32.ap-southeast-2.rds.amazonaws.com', 'ap-southeast-2'],
    ['mydb.cluster-custom-c9akciq32.sa-east-1.rds.amazonaws.com', 'sa-east-1'],
    ['myproxy.proxy-c9akciq32.us-west-2.rds.amazonaws.com', 'us-west-2'],
    ['myproxy-ro.endpoint.proxy-c9akciq32.us-west-2.rds.amazonaws.com', 'us-west-2'],
    ['mydb.c9akciq32.us-gov-west-1.rds.amazonaws.com', 'us-gov-west-1'],
    ['mydb.c9akciq32.cn-north-1.rds.amazonaws.com.cn', 'cn-north-1'],
    ['mydb.cluster-c9akciq32.rds.cn-northwest-1.amazonaws.com.cn', 'cn-northwest-1'],
    ['mydb.c9akciq32.eu-isoe-west-1.rds.cloud.adc-e.uk', 'eu-isoe-west-1'],
    ['mydb.c9akciq32.us-iso-east-1.rds.c2s.ic.gov', 'us-iso-east-1'],
    ['mydb.c9akciq32.us-isob-east-1.rds.sc2s.sgov.gov', 'us-isob-east-1'],
    ['mydb.c9akciq32.ap-southeast-7.rds.amazonaws.com', 'ap-southeast-7'],
    ['mydb.c9akciq32.mx-central-1.rds.amazonaws.com', 'mx-central-1'],
    ['mydb.c9akciq32.eusc-de-east-1.rds.amazonaws.eu', 'eusc-de-east-1'],
    ['MyDB.C9AKCIQ32.US-EAST-1.RDS.AMAZONAWS.COM.', 'us-east-1'],
    ['mydb.shardgrp-abc.c9akciq32.eu-central-1.rds.amazonaws.com', 'eu-central-1'],
  ])('%s -> %s', (host, region) => {
    expect(regionFromHostname(host)).toBe(region);
  });

  it.each([
    'localhost',
    '127.0.0.1',
    '::1',
    '10.0.3.17',
    'db.internal.example.com',
    'db.us-east-1.example.com',
    'mydb.c9akciq32.rds.amazonaws.com',
    'mydb.notaregion.rds.amazonaws.com',
    'us-east-1.rds.amazonaws.com.evil.example',
    'mydb.c9akciq32.us-east-1.ec2.amazonaws.com',
    '',
  ])('%s has no region', (host) => {
    expect(regionFromHostname(host)).toBeUndefined();
  });
});

describe('resolveRegion', () => {
  it('prefers the configured region and reports a mismatch with the hostname', () => {
    expect(resolveRegion('db.x.eu-west-1.rds.amazonaws.com', 'us-east-1')).toEqual({ region: 'us-east-1', fromHostname: 'eu-west-1', mismatch: true });
    expect(resolveRegion('db.x.eu-west-1.rds.amazonaws.com', 'EU-WEST-1')).toEqual({ region: 'eu-west-1', fromHostname: 'eu-west-1', mismatch: false });
    expect(resolveRegion('db.x.eu-west-1.rds.amazonaws.com')).toEqual({ region: 'eu-west-1', fromHostname: 'eu-west-1', mismatch: false });
    expect(resolveRegion('localhost', 'ca-central-1')).toEqual({ region: 'ca-central-1', fromHostname: undefined, mismatch: false });
    expect(resolveRegion('localhost')).toEqual({ region: undefined, fromHostname: undefined, mismatch: false });
  });
});

describe('isLoopbackOrIp', () => {
  it.each([
    ['localhost', true],
    ['db.localhost', true],
    ['127.0.0.1', true],
    ['[::1]', true],
    ['2001:db8::5', true],
    ['mydb.c9akciq32.us-east-1.rds.amazonaws.com', false],
    ['db.internal', false],
  ])('%s -> %s', (host, expected) => {
    expect(isLoopbackOrIp(host)).toBe(expected);
  });
});
