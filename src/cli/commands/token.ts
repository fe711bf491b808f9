import { EXIT_OK, UsageError, type CliIo } from '../io.js';
import type { Command } from '../command.js';
import type { IamConnectionPlan } from '../../index.js';
import { iamPlanOf, regionFor, signToken, targetOfConnection, type SigningTarget } from './iam-target.js';
import { findConnection, loadCliConfig } from './load.js';
import { cliLogger } from './logger.js';

/**
 * `dbmodule token`: an RDS IAM authentication token, as `aws rds generate-db-auth-token` prints
 * it. The only command that prints a token, on purpose: stdout carries the token alone, so
 * `PGPASSWORD="$(dbmodule token ...)"` works. Warnings go to stderr.
 */
export const tokenCommand: Command = {
  summary: 'print an RDS IAM auth token (like aws rds generate-db-auth-token)',
  options: {
    hostname: { type: 'string' },
    port: { type: 'string' },
    username: { type: 'string' },
    region: { type: 'string' },
    connection: { type: 'string' },
  },
  async run({ values, positionals }, io: CliIo) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const logger = cliLogger(io);
    let configured: Partial<SigningTarget> = {};
    let plan: IamConnectionPlan | undefined;
    if (typeof values.connection === 'string') {
      const connection = findConnection(await loadCliConfig(values, io), values.connection);
      // From the connection's plan: what it signs for and with which credentials (profile, role),
      // or CONFIG_INVALID saying it does not use IAM.
      plan = iamPlanOf(connection);
      configured = targetOfConnection(plan);
    }
    const host = text(values.hostname) ?? configured.host;
    const user = text(values.username) ?? configured.user;
    const port = values.port === undefined ? configured.port : portNumber(values.port);
    if (host === undefined || port === undefined || user === undefined) {
      const missing = [host === undefined && '--hostname', port === undefined && '--port', user === undefined && '--username'].filter(Boolean).join(', ');
      throw new UsageError(`missing ${missing} (give the flags, or --connection NAME to take them from the configuration)`);
    }
    const region = regionFor(host, text(values.region) ?? configured.region, io.env, {
      region: configured.host === undefined ? '--region (or AWS_REGION)' : '--region, AWS_REGION or aws_iam_auth.region',
      signingHost: configured.host === undefined ? '--hostname' : 'aws_iam_auth.signing_host',
    });
    const { token, state } = await signToken({ host, port, user, region }, io, logger, plan);
    if (values.json) {
      io.stdout(`${JSON.stringify({
        token,
        host: state.signedHost,
        port: state.signedPort,
        user: state.user,
        region: state.region,
        issuedAt: iso(state.issuedAt),
        expiresAt: iso(state.expiresAt),
        credentialSource: state.credentialSource,
        ...(state.assumedRoleArn === undefined ? {} : { assumedRoleArn: state.assumedRoleArn }),
        ...(state.credentialProfile === undefined ? {} : { credentialProfile: state.credentialProfile }),
        credentialsExpireAt: iso(state.credentialExpiresAt),
        accessKeyIdSuffix: state.accessKeyIdSuffix,
      }, null, 2)}\n`);
    } else {
      io.stdout(`${token}\n`);
    }
    return EXIT_OK;
  },
};

// --- internal ---

function text(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function portNumber(value: string | boolean): number {
  const port = typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(port >= 1 && port <= 65_535)) throw new UsageError(`--port ${String(value)} is not a port number (1-65535)`);
  return port;
}

function iso(time: number | undefined): string | undefined {
  return time === undefined ? undefined : new Date(time).toISOString();
}
