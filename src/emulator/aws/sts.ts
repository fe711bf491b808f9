import { randomBytes } from 'node:crypto';
import { ConfigError } from '../../errors.js';
import type { ShiftableClock } from '../clock.js';
import type { KeyRegistry } from '../key-registry.js';
import { uniqueId, type Caller, type IdentityBook } from './identities.js';
import type { XmlContent } from './query-protocol.js';
import { AwsServiceError } from './service-error.js';

/** Options of {@link EmulatedSts.defineRole}. @public */
export interface RoleOptions {
  /** The ExternalId the trust policy requires (`sts:ExternalId`); AssumeRole without it is AccessDenied. */
  readonly externalId?: string;
  /** The role's MaxSessionDuration: 3600 to 43200 seconds. Default: 3600. */
  readonly maxDurationSeconds?: number;
  /** The access key ids the trust policy lets assume the role. Default: every key the emulator trusts. */
  readonly trustedAccessKeyIds?: readonly string[];
}

/** One successful AssumeRole. Never holds the secret key or the session token. @public */
export interface AssumedRoleRecord {
  readonly roleArn: string;
  readonly roleSessionName: string;
  /** The key that signed the AssumeRole. */
  readonly sourceAccessKeyId: string;
  /** The `ASIA...` key issued (added to the emulator's trusted keys until `expiresAt`). */
  readonly issuedAccessKeyId: string;
  /** When the issued credentials expire, on the emulator clock. */
  readonly expiresAt: Date;
}

/**
 * Controls of the emulated STS (`emulator.aws.sts`). Credentials it issues are trusted by the
 * whole emulator (the RDS IAM token check too) until they expire on the emulator clock.
 * @public
 */
export interface EmulatedSts {
  /** Makes `arn` (`arn:aws:iam::<account>:role/<name>`) assumable; AssumeRole of any other role is AccessDenied. */
  defineRole(arn: string, options?: RoleOptions): void;
  /** Every successful AssumeRole, oldest first (the most recent 10000 are kept). */
  assumed(): readonly AssumedRoleRecord[];
}

/** STS's version, namespace and the assumable-duration bounds of AssumeRole. */
export const STS_VERSION = '2011-06-15';
export const STS_XML_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
const MIN_DURATION = 900;
const MAX_LOG = 10_000;
const MAX_DURATION = 43_200;
/** AWS caps sessions of a role assumed with role credentials (role chaining) at one hour. */
const CHAINED_MAX_DURATION = 3600;
const ROLE_ARN = /^arn:aws:iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;

interface Role {
  readonly arn: string;
  readonly account: string;
  readonly name: string;
  readonly roleId: string;
  readonly externalId: string | undefined;
  readonly maxDurationSeconds: number;
  readonly trustedAccessKeyIds: ReadonlySet<string> | undefined;
}

/**
 * STS's AssumeRole and GetCallerIdentity: assumed credentials are random `ASIA` keys with a
 * session token, added to the shared key registry with their expiry, so every endpoint of the
 * emulator accepts them exactly until then.
 */
export class StsService {
  readonly #roles = new Map<string, Role>();
  readonly #assumed: AssumedRoleRecord[] = [];

  constructor(
    private readonly keys: KeyRegistry,
    private readonly identities: IdentityBook,
    private readonly clock: ShiftableClock,
  ) {}

  /** Answers one authenticated request with the content of `<{Action}Result>`; throws {@link AwsServiceError}. */
  handle(action: string, params: URLSearchParams, caller: Caller): XmlContent {
    switch (action) {
      case 'AssumeRole':
        return this.#assumeRole(params, caller);
      case 'GetCallerIdentity':
        return { Arn: caller.identity.arn, UserId: caller.identity.userId, Account: caller.identity.account };
      default:
        throw new AwsServiceError('InvalidAction', `Could not find operation ${action.slice(0, 64)} for version ${STS_VERSION}`);
    }
  }

  readonly controls: EmulatedSts = {
    defineRole: (arn, options = {}) => {
      const match = ROLE_ARN.exec(arn);
      if (!match) throw invalid(`"${arn}" is not a role ARN (arn:aws:iam::123456789012:role/name)`);
      const maxDurationSeconds = options.maxDurationSeconds ?? 3600;
      if (!Number.isInteger(maxDurationSeconds) || maxDurationSeconds < 3600 || maxDurationSeconds > MAX_DURATION) {
        throw invalid(`maxDurationSeconds ${String(maxDurationSeconds)} is not a whole number of seconds from 3600 to ${MAX_DURATION}`);
      }
      if (options.externalId !== undefined && !EXTERNAL_ID.test(options.externalId)) throw invalid('externalId must be 2 to 1224 of A-Z a-z 0-9 +=,.@:/-_');
      this.#roles.set(arn, {
        arn,
        account: match[1] ?? '',
        name: match[2] ?? '',
        // AROA + 17: stable per role ARN, as the RoleId of a role lives as long as the role.
        roleId: uniqueId('AROA', arn),
        externalId: options.externalId,
        maxDurationSeconds,
        trustedAccessKeyIds: options.trustedAccessKeyIds ? new Set(options.trustedAccessKeyIds) : undefined,
      });
    },
    assumed: () => [...this.#assumed],
  };

  // --- internal ---

  #assumeRole(params: URLSearchParams, caller: Caller): XmlContent {
    const roleArn = params.get('RoleArn');
    const sessionName = params.get('RoleSessionName');
    if (roleArn === null || roleArn === '') throw validation("Value null at 'roleArn' failed to satisfy constraint: Member must not be null");
    if (sessionName === null || sessionName === '') throw validation("Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null");
    if (roleArn.length < 20 || roleArn.length > 2048) throw validation(`Value '${roleArn.slice(0, 64)}' at 'roleArn' failed to satisfy constraint: Member must have length between 20 and 2048`);
    if (!SESSION_NAME.test(sessionName)) {
      throw validation(`Value '${sessionName.slice(0, 64)}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64`);
    }
    const durationText = params.get('DurationSeconds');
    const duration = durationText === null ? 3600 : Number(durationText);
    if (!/^\d{1,6}$/.test(durationText ?? '3600')) throw validation(`Value '${String(durationText).slice(0, 16)}' at 'durationSeconds' failed to satisfy constraint: Member must be a number`);
    if (duration < MIN_DURATION) throw validation(`Value '${duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to ${MIN_DURATION}`);
    if (duration > MAX_DURATION) throw validation(`Value '${duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to ${MAX_DURATION}`);
    const externalId = params.get('ExternalId');
    if (externalId !== null && !EXTERNAL_ID.test(externalId)) {
      throw validation("Value at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]* and have length between 2 and 1224");
    }

    const role = this.#roles.get(roleArn);
    const trusted =
      role !== undefined &&
      (role.trustedAccessKeyIds === undefined || role.trustedAccessKeyIds.has(caller.accessKeyId)) &&
      (role.externalId === undefined || role.externalId === externalId);
    // One answer for an unknown role, an untrusted caller and a wrong ExternalId, as AWS gives.
    if (!role || !trusted) throw new AwsServiceError('AccessDenied', `User: ${caller.identity.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`, 403);
    if (duration > role.maxDurationSeconds) throw new AwsServiceError('ValidationError', 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
    if (this.identities.isAssumedRole(caller.accessKeyId) && duration > CHAINED_MAX_DURATION) {
      throw new AwsServiceError('ValidationError', 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.');
    }

    // Whole seconds: STS reports Expiration without milliseconds, and the registry must agree with it.
    const expiresAt = Math.floor(this.clock.now() / 1000) * 1000 + duration * 1000;
    const credentials = {
      accessKeyId: `ASIA${randomBase32(16)}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: `IQoJb3JpZ2luX2VtdWxhdG9y${randomBytes(192).toString('base64')}`,
      expiresAt,
    };
    const assumedRoleId = `${role.roleId}:${sessionName}`;
    const arn = `arn:aws:sts::${role.account}:assumed-role/${role.name}/${sessionName}`;
    this.keys.add(credentials);
    this.identities.recordAssumed(credentials.accessKeyId, { account: role.account, arn, userId: assumedRoleId });
    this.#assumed.push(
      Object.freeze({ roleArn, roleSessionName: sessionName, sourceAccessKeyId: caller.accessKeyId, issuedAccessKeyId: credentials.accessKeyId, expiresAt: new Date(expiresAt) }),
    );
    if (this.#assumed.length > MAX_LOG) this.#assumed.splice(0, this.#assumed.length - MAX_LOG);
    return {
      AssumedRoleUser: { AssumedRoleId: assumedRoleId, Arn: arn },
      Credentials: {
        AccessKeyId: credentials.accessKeyId,
        SecretAccessKey: credentials.secretAccessKey,
        SessionToken: credentials.sessionToken,
        Expiration: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
    };
  }
}

// --- internal ---

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function randomBase32(length: number): string {
  return [...randomBytes(length)].map((byte) => BASE32[byte % 32]).join('');
}

function validation(problem: string): AwsServiceError {
  return new AwsServiceError('ValidationError', `1 validation error detected: ${problem}`);
}

function invalid(problem: string): ConfigError {
  return new ConfigError('CONFIG_INVALID', `emulator sts.defineRole: ${problem}`);
}
