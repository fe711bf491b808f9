import { randomBytes, randomUUID } from 'node:crypto';
import { AwsServiceError } from './service-error.js';

/** The staging labels Secrets Manager itself moves. */
export const AWSCURRENT = 'AWSCURRENT';
export const AWSPREVIOUS = 'AWSPREVIOUS';
export const AWSPENDING = 'AWSPENDING';

export interface SecretVersion {
  readonly id: string;
  readonly value: string;
  /** Epoch milliseconds, emulator clock. */
  readonly createdAt: number;
  readonly stages: Set<string>;
}

export interface StoredSecret {
  readonly name: string;
  readonly arn: string;
  readonly description: string | undefined;
  readonly createdAt: number;
  lastChangedAt: number;
  /** Oldest first. */
  readonly versions: Map<string, SecretVersion>;
}

/**
 * The secrets and their versions, with Secrets Manager's staging-label rules: a label is on at
 * most one version; the version that loses AWSCURRENT gets AWSPREVIOUS; AWSCURRENT can be moved
 * but never just removed. Violations throw the error Secrets Manager answers with.
 */
export class SecretsStore {
  readonly #secrets = new Map<string, StoredSecret>();

  constructor(
    private readonly region: string,
    private readonly accountId: string,
  ) {}

  get arnPrefix(): string {
    return `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:`;
  }

  create(name: string, value: string, now: number, options: { versionId?: string | undefined; description?: string | undefined } = {}): { secret: StoredSecret; version: SecretVersion } {
    if (this.#secrets.has(name)) throw new AwsServiceError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
    // AWS appends six random characters, so a secret deleted and created again has a new ARN.
    const suffix = randomBytes(6).toString('base64url').replace(/[-_]/g, 'x').slice(0, 6);
    const secret: StoredSecret = { name, arn: `${this.arnPrefix}${name}-${suffix}`, description: options.description, createdAt: now, lastChangedAt: now, versions: new Map() };
    this.#secrets.set(name, secret);
    const version = this.addVersion(secret, value, now, options.versionId, [AWSCURRENT]);
    return { secret, version };
  }

  /** By name, full ARN, or partial ARN (without the random suffix), as Secrets Manager accepts. */
  find(secretId: string): StoredSecret | undefined {
    const byName = this.#secrets.get(secretId);
    if (byName) return byName;
    if (!secretId.startsWith(this.arnPrefix)) return undefined;
    for (const secret of this.#secrets.values()) {
      if (secret.arn === secretId || `${this.arnPrefix}${secret.name}` === secretId) return secret;
    }
    return undefined;
  }

  names(): string[] {
    return [...this.#secrets.keys()];
  }

  /** The version a GetSecretValue names: by id, by label, both (they must agree), or AWSCURRENT. */
  select(secret: StoredSecret, versionId: string | undefined, versionStage: string | undefined): SecretVersion {
    if (versionId !== undefined) {
      const version = secret.versions.get(versionId);
      if (!version || (versionStage !== undefined && !version.stages.has(versionStage))) {
        throw new AwsServiceError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for VersionId: ${versionId}${versionStage === undefined ? '' : ` and staging label: ${versionStage}`}`);
      }
      return version;
    }
    const stage = versionStage ?? AWSCURRENT;
    const version = this.holder(secret, stage);
    if (!version) throw new AwsServiceError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for staging label: ${stage}`);
    return version;
  }

  /**
   * PutSecretValue: a new version with `stages` (default AWSCURRENT). A `versionId` (the
   * ClientRequestToken) that exists already is an idempotent retry when the value is the same,
   * and refused otherwise, as AWS does.
   */
  put(secret: StoredSecret, value: string, now: number, versionId: string | undefined, stages: readonly string[] = [AWSCURRENT]): SecretVersion {
    const existing = versionId === undefined ? undefined : secret.versions.get(versionId);
    if (existing) {
      if (existing.value !== value) throw new AwsServiceError('ResourceExistsException', `You can't modify an existing version, you can only create a new version. VersionId: ${existing.id}`);
      return existing;
    }
    return this.addVersion(secret, value, now, versionId, stages);
  }

  /**
   * UpdateSecretVersionStage: moves `stage` to `moveTo` (then `removeFrom` must name the version
   * holding it, if any), or only removes it from `removeFrom`.
   */
  moveStage(secret: StoredSecret, stage: string, moveTo: string | undefined, removeFrom: string | undefined, now: number): void {
    checkStage(stage);
    const holder = this.holder(secret, stage);
    if (removeFrom !== undefined && holder?.id !== removeFrom) {
      throw new AwsServiceError('InvalidParameterException', `The staging label ${stage} is not attached to version ${removeFrom}.`);
    }
    if (moveTo === undefined) {
      if (removeFrom === undefined) throw new AwsServiceError('InvalidParameterException', 'Specify MoveToVersionId, RemoveFromVersionId, or both.');
      if (stage === AWSCURRENT) throw new AwsServiceError('InvalidParameterException', `You can't remove the staging label ${AWSCURRENT} from a version; move it to another version instead.`);
      holder?.stages.delete(stage);
      secret.lastChangedAt = now;
      return;
    }
    const target = secret.versions.get(moveTo);
    if (!target) throw new AwsServiceError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for VersionId: ${moveTo}`);
    if (holder && holder !== target && removeFrom === undefined) {
      throw new AwsServiceError(
        'InvalidParameterException',
        `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder.id}, so you must explicitly reference that version in RemoveFromVersionId.`,
      );
    }
    this.attach(secret, target, stage);
    secret.lastChangedAt = now;
  }

  /** Each version that has labels, with them (DescribeSecret's VersionIdsToStages). */
  stagesOf(secret: StoredSecret): Record<string, string[]> {
    const stages: Record<string, string[]> = {};
    for (const version of secret.versions.values()) if (version.stages.size > 0) stages[version.id] = [...version.stages];
    return stages;
  }

  // --- internal ---

  private addVersion(secret: StoredSecret, value: string, now: number, versionId: string | undefined, stages: readonly string[]): SecretVersion {
    if (stages.length === 0 || stages.length > 20) throw new AwsServiceError('InvalidParameterException', 'VersionStages must hold between 1 and 20 staging labels.');
    for (const stage of stages) checkStage(stage);
    const id = versionId ?? randomUUID();
    if (id.length < 32 || id.length > 64) throw new AwsServiceError('InvalidParameterException', 'ClientRequestToken must be 32 to 64 characters long.');
    const version: SecretVersion = { id, value, createdAt: now, stages: new Set() };
    secret.versions.set(id, version);
    for (const stage of stages) this.attach(secret, version, stage);
    secret.lastChangedAt = now;
    return version;
  }

  /** Puts `stage` on `version` and takes it off its holder; the version losing AWSCURRENT becomes AWSPREVIOUS. */
  private attach(secret: StoredSecret, version: SecretVersion, stage: string): void {
    const holder = this.holder(secret, stage);
    if (holder === version) return;
    holder?.stages.delete(stage);
    version.stages.add(stage);
    if (stage === AWSCURRENT && holder) this.attach(secret, holder, AWSPREVIOUS);
  }

  private holder(secret: StoredSecret, stage: string): SecretVersion | undefined {
    for (const version of secret.versions.values()) if (version.stages.has(stage)) return version;
    return undefined;
  }
}

function checkStage(stage: string): void {
  if (stage.length < 1 || stage.length > 256) throw new AwsServiceError('InvalidParameterException', 'A staging label must be 1 to 256 characters long.');
}
