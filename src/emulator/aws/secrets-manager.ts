import { ConfigError } from '../../errors.js';
import type { ShiftableClock } from '../clock.js';
import type { Caller } from './identities.js';
import { AwsServiceError } from './service-error.js';
import { AWSCURRENT, AWSPENDING, SecretsStore, type StoredSecret } from './secrets-store.js';

/** Options of {@link EmulatedSecretsManager.create}. @public */
export interface SecretCreateOptions {
  /** The first version's id. Default: a random UUID. */
  readonly versionId?: string;
  /** Shown by DescribeSecret. */
  readonly description?: string;
}

/** Options of {@link EmulatedSecretsManager.put}. @public */
export interface SecretPutOptions {
  /** Staging labels of the new version. Default: `['AWSCURRENT']` (the current version becomes AWSPREVIOUS). */
  readonly stages?: readonly string[];
  /** The new version's id. Default: a random UUID. */
  readonly versionId?: string;
}

/**
 * One request to the emulated Secrets Manager, answered or refused. Never holds a secret value.
 * @public
 */
export interface SecretsManagerRequest {
  /** Emulator time of the answer. */
  readonly time: Date;
  /** `GetSecretValue`, `PutSecretValue`, ... (empty when the target was unreadable). */
  readonly action: string;
  /** The secret's name, or the SecretId as given when no secret has it (undefined without one). */
  readonly secretName: string | undefined;
  /** The signing key (also when it was refused). */
  readonly accessKeyId: string | undefined;
  /** GetSecretValue: the label asked for (AWSCURRENT when neither VersionId nor VersionStage was given); PutSecretValue: the first label; UpdateSecretVersionStage: the label moved. */
  readonly versionStage: string | undefined;
  readonly ok: boolean;
  /** The AWS error code answered, when not ok (`AccessDeniedException`, `UnrecognizedClientException`...). */
  readonly errorCode: string | undefined;
}

/**
 * Controls of the emulated Secrets Manager (`emulator.aws.secrets`). Values are strings; objects
 * are stored JSON-stringified, as database credentials usually are.
 * @public
 */
export interface EmulatedSecretsManager {
  /** Creates a secret whose first version is AWSCURRENT. Throws when the name is taken. */
  create(name: string, value: string | object, options?: SecretCreateOptions): { readonly arn: string; readonly versionId: string };
  /** Adds a version (AWSCURRENT unless `stages` says otherwise, e.g. `['AWSPENDING']` to stage a rotation); returns its id. */
  put(name: string, value: string | object, options?: SecretPutOptions): string;
  /** Finishes a rotation: `versionId` becomes AWSCURRENT (and loses AWSPENDING), the current version AWSPREVIOUS. */
  promote(name: string, versionId: string): void;
  /** Each labelled version's id and labels (DescribeSecret's VersionIdsToStages). */
  stages(name: string): Record<string, readonly string[]>;
  /** How many GetSecretValue calls were answered with a value, for `name` or for every secret. */
  fetches(name?: string): number;
  /** Every request, oldest first (the most recent 10000 are kept). */
  requests(): readonly SecretsManagerRequest[];
  /** Answers AccessDeniedException to every request on `name`, from `accessKeyId` only when given. */
  denyAccess(name: string, accessKeyId?: string): void;
  /** Lifts {@link EmulatedSecretsManager.denyAccess}: for `accessKeyId`, or every denial on `name` without it. */
  allowAccess(name: string, accessKeyId?: string): void;
  /**
   * Makes the next `count` GetSecretValue calls on `name` fail with `code` after authentication:
   * HTTP 500 for `InternalServiceError` (the default; the SDK retries it), 400 for any other code.
   */
  failNext(name: string, count: number, code?: string): void;
}

const MAX_LOG = 10_000;
const MAX_SECRET_BYTES = 65_536;
const NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const ACTIONS = ['GetSecretValue', 'PutSecretValue', 'UpdateSecretVersionStage', 'DescribeSecret'] as const;
type Action = (typeof ACTIONS)[number];

/**
 * Secrets Manager's GetSecretValue, PutSecretValue, UpdateSecretVersionStage and DescribeSecret
 * over awsJson inputs, with the controls tests steer it by: denials, injected failures, counts.
 */
export class SecretsManagerService {
  readonly #store: SecretsStore;
  readonly #fetches = new Map<string, number>();
  readonly #log: SecretsManagerRequest[] = [];
  /** name -> denied access key ids; `*` denies every key. */
  readonly #denied = new Map<string, Set<string>>();
  readonly #failures = new Map<string, { remaining: number; code: string }>();

  constructor(
    region: string,
    accountId: string,
    private readonly clock: ShiftableClock,
  ) {
    this.#store = new SecretsStore(region, accountId);
  }

  /** Answers one authenticated request; throws {@link AwsServiceError}. */
  handle(action: string, input: Record<string, unknown>, caller: Caller): object {
    if (!isAction(action)) throw new AwsServiceError('UnknownOperationException', `the emulator does not implement secretsmanager:${action}`);
    const secretId = requiredString(input, 'SecretId');
    const secret = this.#store.find(secretId);
    if (this.#isDenied(secret?.name ?? secretId, caller.accessKeyId)) {
      throw new AwsServiceError(
        'AccessDeniedException',
        `User: ${caller.identity.arn} is not authorized to perform: secretsmanager:${action} on resource: ${secretId} because no resource-based policy allows the secretsmanager:${action} action`,
      );
    }
    if (!secret) throw new AwsServiceError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    const now = this.clock.now();
    switch (action) {
      case 'GetSecretValue':
        return this.#getSecretValue(secret, input);
      case 'PutSecretValue': {
        const stages = optionalStringList(input, 'VersionStages');
        const version = this.#store.put(secret, secretString(input), now, optionalString(input, 'ClientRequestToken'), stages);
        return { ARN: secret.arn, Name: secret.name, VersionId: version.id, VersionStages: [...version.stages] };
      }
      case 'UpdateSecretVersionStage':
        this.#store.moveStage(secret, requiredString(input, 'VersionStage'), optionalString(input, 'MoveToVersionId'), optionalString(input, 'RemoveFromVersionId'), now);
        return { ARN: secret.arn, Name: secret.name };
      case 'DescribeSecret':
        return {
          ARN: secret.arn,
          Name: secret.name,
          ...(secret.description === undefined ? {} : { Description: secret.description }),
          CreatedDate: secret.createdAt / 1000,
          LastChangedDate: secret.lastChangedAt / 1000,
          VersionIdsToStages: this.#store.stagesOf(secret),
        };
    }
  }

  /** Logs a request once answered; the input is only read for names and labels. */
  record(action: string, input: Record<string, unknown> | undefined, accessKeyId: string | undefined, errorCode: string | undefined): void {
    const secretId = typeof input?.SecretId === 'string' ? input.SecretId : undefined;
    this.#log.push(
      Object.freeze({
        time: new Date(this.clock.now()),
        action,
        secretName: secretId === undefined ? undefined : (this.#store.find(secretId)?.name ?? secretId),
        accessKeyId,
        versionStage: stageOf(action, input),
        ok: errorCode === undefined,
        errorCode,
      }),
    );
    if (this.#log.length > MAX_LOG) this.#log.splice(0, this.#log.length - MAX_LOG);
  }

  readonly controls: EmulatedSecretsManager = {
    create: (name, value, options = {}) => {
      if (!NAME.test(name)) throw invalid(`"${name}" is not a secret name (1 to 512 of A-Z a-z 0-9 /_+=.@-)`);
      const { secret, version } = this.#control(() => this.#store.create(name, stringify(value), this.clock.now(), options));
      return { arn: secret.arn, versionId: version.id };
    },
    put: (name, value, options = {}) => {
      const secret = this.#known(name);
      return this.#control(() => this.#store.put(secret, stringify(value), this.clock.now(), options.versionId, options.stages)).id;
    },
    promote: (name, versionId) => {
      const secret = this.#known(name);
      const version = secret.versions.get(versionId);
      if (!version) throw invalid(`secret ${name} has no version ${versionId}`);
      const current = this.#store.select(secret, undefined, AWSCURRENT);
      this.#control(() => this.#store.moveStage(secret, AWSCURRENT, versionId, current.id, this.clock.now()));
      version.stages.delete(AWSPENDING);
    },
    stages: (name) => this.#store.stagesOf(this.#known(name)),
    fetches: (name) => (name === undefined ? [...this.#fetches.values()].reduce((sum, n) => sum + n, 0) : (this.#fetches.get(name) ?? 0)),
    requests: () => [...this.#log],
    denyAccess: (name, accessKeyId) => {
      const denied = this.#denied.get(name) ?? new Set<string>();
      denied.add(accessKeyId ?? '*');
      this.#denied.set(name, denied);
    },
    allowAccess: (name, accessKeyId) => {
      if (accessKeyId === undefined) this.#denied.delete(name);
      else this.#denied.get(name)?.delete(accessKeyId);
    },
    failNext: (name, count, code = 'InternalServiceError') => {
      if (!Number.isInteger(count) || count < 0) throw invalid(`failNext: ${String(count)} is not a number of calls`);
      if (!/^[A-Za-z]+$/.test(code)) throw invalid(`failNext: "${code}" is not an AWS error code`);
      this.#known(name);
      this.#failures.set(name, { remaining: count, code });
    },
  };

  // --- internal ---

  #getSecretValue(secret: StoredSecret, input: Record<string, unknown>): object {
    const failure = this.#failures.get(secret.name);
    if (failure && failure.remaining > 0) {
      failure.remaining -= 1;
      throw new AwsServiceError(failure.code, `The emulator was told to fail this GetSecretValue (failNext, ${failure.remaining} more to fail).`, failure.code === 'InternalServiceError' ? 500 : 400);
    }
    const version = this.#store.select(secret, optionalString(input, 'VersionId'), optionalString(input, 'VersionStage'));
    this.#fetches.set(secret.name, (this.#fetches.get(secret.name) ?? 0) + 1);
    return { ARN: secret.arn, Name: secret.name, VersionId: version.id, SecretString: version.value, VersionStages: [...version.stages], CreatedDate: version.createdAt / 1000 };
  }

  #isDenied(name: string, accessKeyId: string): boolean {
    const denied = this.#denied.get(name);
    return denied !== undefined && (denied.has('*') || denied.has(accessKeyId));
  }

  #known(name: string): StoredSecret {
    const secret = this.#store.find(name);
    if (!secret) throw invalid(`there is no secret ${name} (known: ${this.#store.names().join(', ') || 'none'})`);
    return secret;
  }

  /** Runs a store operation for a control, turning the answer a client would get into a ConfigError. */
  #control<T>(operation: () => T): T {
    try {
      return operation();
    } catch (error) {
      if (error instanceof AwsServiceError) throw invalid(`${error.code}: ${error.message}`);
      throw error;
    }
  }
}

// --- internal ---

function isAction(action: string): action is Action {
  return (ACTIONS as readonly string[]).includes(action);
}

function stageOf(action: string, input: Record<string, unknown> | undefined): string | undefined {
  if (!input) return undefined;
  if (action === 'GetSecretValue') return typeof input.VersionStage === 'string' ? input.VersionStage : input.VersionId === undefined ? AWSCURRENT : undefined;
  if (action === 'PutSecretValue') return Array.isArray(input.VersionStages) ? (typeof input.VersionStages[0] === 'string' ? input.VersionStages[0] : undefined) : AWSCURRENT;
  if (action === 'UpdateSecretVersionStage') return typeof input.VersionStage === 'string' ? input.VersionStage : undefined;
  return undefined;
}

function stringify(value: string | object): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (Buffer.byteLength(text) > MAX_SECRET_BYTES) throw invalid(`a secret value is at most ${MAX_SECRET_BYTES} bytes`);
  return text;
}

function secretString(input: Record<string, unknown>): string {
  if (input.SecretBinary !== undefined) throw new AwsServiceError('InvalidParameterException', 'The emulator stores SecretString values only.');
  const value = input.SecretString;
  // The message names the parameter, never its value.
  if (typeof value !== 'string') throw new AwsServiceError('InvalidParameterException', 'You must provide either SecretString or SecretBinary.');
  if (Buffer.byteLength(value) > MAX_SECRET_BYTES) throw new AwsServiceError('InvalidParameterException', `SecretString must be at most ${MAX_SECRET_BYTES} bytes.`);
  return value;
}

function requiredString(input: Record<string, unknown>, name: string): string {
  const value = input[name];
  if (typeof value !== 'string' || value === '') throw new AwsServiceError('InvalidParameterException', `The parameter ${name} must be a non-empty string.`);
  return value;
}

function optionalString(input: Record<string, unknown>, name: string): string | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value === '') throw new AwsServiceError('InvalidParameterException', `The parameter ${name} must be a non-empty string.`);
  return value;
}

function optionalStringList(input: Record<string, unknown>, name: string): string[] | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string')) throw new AwsServiceError('InvalidParameterException', `The parameter ${name} must be a list of strings.`);
  return value;
}

function invalid(problem: string): ConfigError {
  return new ConfigError('CONFIG_INVALID', `emulator secrets: ${problem}`);
}
