import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import {
  decideAccess,
  purposeError,
  DomainEvent,
  EventStore,
  Principal,
  SecretCommand,
  secretDecider,
  SecretScope,
  secretSubjectOf,
  SecretState,
  SecretValueKey,
  SecretValueMissingError,
  SecretValueStore,
  StoreUnavailableError,
  StreamName,
} from '@app/domain';
import { ciRoleName } from '@app/domain/openbao/policy-renderer';
import { SecretValueNotDelivered, ValueNotDeliveredReason } from '@app/domain/openbao/value-delivery';
import { describeError, JsonLogger } from '@app/infra/logging/logger';
import { EVENT_STORE, LOGGER, METRICS, VALUE_STORE } from '@app/infra/nest/tokens';
import { BaoError, isStatus } from '@app/infra/openbao/bao-client';
import { OpenBaoValueStore } from '@app/infra/value-store/openbao-value-store';
import { Metrics } from '@app/infra/observability/metrics';
import { AccessControl } from '../application/access-control';
import { CommandContext, envelope } from '../application/event-envelope';
import { handleCommand } from '../application/handle-command';
import { Loaded } from '../application/stream-state-cache';
import { problems } from '../http/problem';
import { CreateSecretDto, PatchSecretDto, SecretMetadataView } from './secret.dto';
import { metadataView, SecretStates } from './secret-states';

// Commands: one small class each; the handlers are the four-line pattern plus authorization.

export class CreateSecretCommand {
  constructor(readonly projectId: string, readonly body: CreateSecretDto, readonly principal: Principal, readonly ctx: CommandContext) {}
}
export class UpdateSecretValueCommand {
  constructor(readonly projectId: string, readonly name: string, readonly value: string, readonly ifMatch: number | undefined, readonly principal: Principal, readonly ctx: CommandContext) {}
}
export class ChangeSecretMetadataCommand {
  constructor(readonly projectId: string, readonly name: string, readonly body: PatchSecretDto, readonly ifMatch: number | undefined, readonly principal: Principal, readonly ctx: CommandContext) {}
}
export class DeleteSecretCommand {
  constructor(readonly projectId: string, readonly name: string, readonly ifMatch: number | undefined, readonly principal: Principal, readonly ctx: CommandContext) {}
}
export class AccessSecretCommand {
  constructor(
    readonly projectId: string,
    readonly name: string,
    readonly purpose: string | null,
    readonly principal: Principal,
    readonly ctx: CommandContext,
    /** A CI job's own bearer token, for its OpenBao login. */
    readonly ciJobToken?: string,
  ) {}
}

const meta = (ctx: CommandContext) => ({ now: ctx.now, actor: ctx.actor });

/** A secret that is not there: 404 to those who may list the project's secrets, 403 (audited) to others. */
async function requireVisible(
  access: AccessControl,
  principal: Principal,
  action: 'update' | 'delete' | 'list',
  projectId: string,
  name: string,
  loaded: Loaded<SecretState>,
  ctx: CommandContext,
) {
  const subject = secretSubjectOf(loaded.state, projectId, name);
  if (loaded.state.status !== 'active') {
    await access.require(principal, 'list', subject, ctx);
    throw problems.notFound(`secret ${name} not found`);
  }
  return access.require(principal, action, subject, ctx);
}

/**
 * Value first, under a fresh reference, then the event naming it. A lost race (a retried
 * decision) or a failed append leaves unreferenced values, which are destroyed at once: no
 * event ever names a value that was not stored, and no stored value outlives a failed command.
 */
class PendingValues {
  private readonly refs: string[] = [];
  /**
   * `stored` reads the value references the secret's stream holds: after an ambiguous failure
   * (the store went away mid-append; the append may have committed) it decides what to keep.
   */
  constructor(
    private readonly values: SecretValueStore,
    private readonly stored: () => Promise<Set<string>>,
  ) {}

  async put(key: SecretValueKey, value: string): Promise<string> {
    const { valueRef } = await this.values.put(key, value);
    this.refs.push(valueRef);
    return valueRef;
  }

  /** Destroys every value put here that no committed event names. */
  private async settle(committed: DomainEvent[] | null, error: unknown): Promise<void> {
    let keep = new Set((committed ?? []).map((e) => String((e.data as { valueRef?: string }).valueRef)));
    if (!committed && error instanceof StoreUnavailableError) {
      // Maybe appended, maybe not: ask the stream. If it cannot answer either, keep everything;
      // the orphan sweep destroys what no event names once the grace period has passed.
      const inStream = await this.stored().catch(() => null);
      if (!inStream) return;
      keep = inStream;
    }
    const orphans = this.refs.filter((r) => !keep.has(r));
    if (orphans.length > 0) await this.values.destroy(orphans).catch(() => undefined);
  }

  async run<T extends { events: DomainEvent[] }>(fn: () => Promise<T>): Promise<T> {
    let result: T | undefined;
    let error: unknown;
    try {
      result = await fn();
      return result;
    } catch (e) {
      error = e;
      throw e;
    } finally {
      await this.settle(result ? result.events : null, error);
    }
  }
}

/**
 * Runs the decider on the state just read with a placeholder reference, before any value is
 * written: a command the decider refuses (409 exists, 404 gone, 400 invalid) throws here and
 * stores nothing. The real decision is made again on the same state with the real reference.
 */
function decideBeforeWriting(state: SecretState, build: (valueRef: string) => SecretCommand): void {
  secretDecider.decide(build('pending:not-yet-written'), state);
}

/** Every value reference the secret's stream names (for PendingValues after an ambiguous failure). */
function storedRefs(store: EventStore, stream: string): () => Promise<Set<string>> {
  return async () => new Set((await store.readStream(stream)).map((e) => String((e.data as { valueRef?: unknown }).valueRef)));
}

@CommandHandler(CreateSecretCommand)
export class CreateSecretHandler implements ICommandHandler<CreateSecretCommand> {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(VALUE_STORE) private readonly values: SecretValueStore,
    private readonly secrets: SecretStates,
    private readonly access: AccessControl,
  ) {}

  async execute({ projectId, body, principal, ctx }: CreateSecretCommand) {
    const scope: SecretScope = { environment: body.environment ?? null, branch: body.branch ?? null, protectedOnly: body.protectedOnly ?? false };
    await this.access.require(principal, 'create', { projectId, name: body.name, ...scope }, ctx);
    const pending = new PendingValues(this.values, storedRefs(this.store, StreamName.secret(projectId, body.name)));
    const result = await pending.run(() =>
      handleCommand(this.store, this.secrets, StreamName.secret(projectId, body.name), secretDecider, async (loaded): Promise<SecretCommand> => {
        const build = (valueRef: string): SecretCommand => ({
          type: 'CreateSecret',
          data: { projectId, name: body.name, description: body.description ?? null, scope, valueRef, rotationIntervalDays: body.rotationIntervalDays ?? null },
          metadata: meta(ctx),
        });
        // Decide before the value is written: a create of a secret that exists (409) writes nothing
        // under its path, whatever the caller may create elsewhere.
        decideBeforeWriting(loaded.state, build);
        return build(await pending.put({ projectId, name: body.name, version: 1, scope }, body.value));
      }, ctx),
    );
    return { name: body.name, version: 1, revision: result.nextExpectedRevision };
  }
}

@CommandHandler(UpdateSecretValueCommand)
export class UpdateSecretValueHandler implements ICommandHandler<UpdateSecretValueCommand> {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(VALUE_STORE) private readonly values: SecretValueStore,
    private readonly secrets: SecretStates,
    private readonly access: AccessControl,
  ) {}

  async execute({ projectId, name, value, ifMatch, principal, ctx }: UpdateSecretValueCommand) {
    const pending = new PendingValues(this.values, storedRefs(this.store, StreamName.secret(projectId, name)));
    const result = await pending.run(() =>
      handleCommand(this.store, this.secrets, StreamName.secret(projectId, name), secretDecider, async (loaded): Promise<SecretCommand> => {
        await requireVisible(this.access, principal, 'update', projectId, name, loaded, ctx);
        const build = (valueRef: string): SecretCommand => ({ type: 'UpdateSecretValue', data: { valueRef }, metadata: meta(ctx) });
        decideBeforeWriting(loaded.state, build);
        if (loaded.state.status !== 'active') throw new Error('unreachable: decideBeforeWriting refuses an update of a secret that is not active');
        return build(await pending.put({ projectId, name, version: loaded.state.version + 1, scope: loaded.state.scope }, value));
      }, ctx, { ifMatch }),
    );
    const ev = result.events[0];
    return { version: ev && ev.type === 'SecretValueUpdated' ? (ev.data as { version: number }).version : 0 };
  }
}

@CommandHandler(ChangeSecretMetadataCommand)
export class ChangeSecretMetadataHandler implements ICommandHandler<ChangeSecretMetadataCommand> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore, private readonly secrets: SecretStates, private readonly access: AccessControl) {}

  async execute({ projectId, name, body, ifMatch, principal, ctx }: ChangeSecretMetadataCommand): Promise<SecretMetadataView> {
    await handleCommand(this.store, this.secrets, StreamName.secret(projectId, name), secretDecider, async (loaded): Promise<SecretCommand> => {
      await requireVisible(this.access, principal, 'update', projectId, name, loaded, ctx);
      if (loaded.state.status === 'active') {
        // Moving a secret's scope needs update rights on where it goes, too.
        const s = loaded.state.scope;
        const to = {
          projectId,
          name,
          environment: body.environment !== undefined ? body.environment : s.environment,
          branch: body.branch !== undefined ? body.branch : s.branch,
          protectedOnly: body.protectedOnly ?? s.protectedOnly,
        };
        await this.access.require(principal, 'update', to, ctx);
      }
      return { type: 'ChangeSecretMetadata', data: { ...body }, metadata: meta(ctx) };
    }, ctx, { ifMatch });
    const after = await this.secrets.forSecret(projectId, name);
    if (after.state.status !== 'active') throw problems.notFound(`secret ${name} not found`);
    return metadataView(after.state, after.revision, ctx.now);
  }
}

@CommandHandler(DeleteSecretCommand)
export class DeleteSecretHandler implements ICommandHandler<DeleteSecretCommand> {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(VALUE_STORE) private readonly values: SecretValueStore,
    private readonly secrets: SecretStates,
    private readonly access: AccessControl,
  ) {}

  async execute({ projectId, name, ifMatch, principal, ctx }: DeleteSecretCommand): Promise<void> {
    const streamName = StreamName.secret(projectId, name);
    const result = await handleCommand(this.store, this.secrets, streamName, secretDecider, async (loaded): Promise<SecretCommand> => {
      await requireVisible(this.access, principal, 'delete', projectId, name, loaded, ctx);
      return { type: 'DeleteSecret', data: {}, metadata: meta(ctx) };
    }, ctx, { ifMatch });
    // Crypto-shred the deleted generation's values: every ref since its SecretCreated.
    const events = await this.store.readStream(streamName, { maxCount: result.nextExpectedRevision + 1 });
    const refs: string[] = [];
    for (const e of events) {
      if (e.type === 'SecretCreated') refs.length = 0;
      if (e.type === 'SecretCreated' || e.type === 'SecretValueUpdated') refs.push(String(e.data.valueRef));
    }
    await this.values.destroy(refs);
  }
}

@CommandHandler(AccessSecretCommand)
export class AccessSecretHandler implements ICommandHandler<AccessSecretCommand> {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(VALUE_STORE) private readonly values: SecretValueStore,
    @Inject(METRICS) private readonly metrics: Metrics,
    @Inject(LOGGER) private readonly logger: JsonLogger,
    private readonly secrets: SecretStates,
    private readonly access: AccessControl,
  ) {}

  /**
   * A CI job reads through its own OpenBao login (the role of the secret's scope), so OpenBao
   * enforces the scope a second time and the service token is not used. Until the projector has
   * rendered that role (a secret created a moment ago), OpenBao refuses the login; the event store
   * has already allowed this read, so it falls back to the service token, counted and logged.
   */
  private async readValue(valueRef: string, scope: SecretScope, cmd: AccessSecretCommand, accessEventId: string): Promise<string> {
    if (!(this.values instanceof OpenBaoValueStore)) return this.values.get(valueRef);
    // accessEventId: OpenBao's audit entry of this read carries it in a MAC'd marker, so the auditor does not count it twice.
    if (!cmd.ciJobToken) return this.values.get(valueRef, accessEventId);
    try {
      const value = await this.values.getAsJob(valueRef, cmd.ciJobToken, ciRoleName(cmd.projectId, scope), accessEventId);
      this.metrics.brokeredReads.inc({ as: 'job' });
      return value;
    } catch (e) {
      if (!isStatus(e, 400, 403)) throw e;
      this.metrics.brokeredReads.inc({ as: 'service-fallback' });
      this.logger.warn("OpenBao refused the job's own login or read (role not projected yet?); reading with the service token", {
        projectId: cmd.projectId,
        name: cmd.name,
        status: (e as BaoError).status,
      });
      return this.values.get(valueRef, accessEventId);
    }
  }

  async execute(cmd: AccessSecretCommand) {
    const { projectId, name, purpose, principal, ctx } = cmd;
    const [secret, policy] = await Promise.all([this.secrets.forSecret(projectId, name), this.access.policy(projectId)]);
    // A bad purpose is a 400, but a probe is still audited: decide without it, record a denial, then refuse.
    const badPurpose = purposeError(purpose);
    const decision = decideAccess({ type: 'AccessSecret', data: { projectId, name, principal, purpose: badPurpose ? null : purpose }, metadata: meta(ctx) }, { secret: secret.state, policy: policy.state });
    if (decision.type === 'SecretAccessDenied') {
      await this.access.recordDenial(decision, ctx);
      if (badPurpose) throw badPurpose;
      if (decision.data.reason === 'secret-not-found') throw problems.notFound(`secret ${name} not found`);
      throw problems.forbidden(decision.data.reason);
    }
    if (secret.state.status !== 'active') throw problems.notFound(`secret ${name} not found`); // unreachable: decideAccess denies
    if (badPurpose) throw badPurpose; // allowed, but nothing is recorded or returned for a request refused as malformed
    // The value leaves only after its SecretAccessed event is durable; if that append fails the caller gets 503 and no value.
    const accessed = envelope(decision, ctx);
    await this.store.appendToStream(StreamName.access(projectId, name), 'any', [accessed]);
    this.metrics.accessDecisions.inc({ decision: 'allowed', reason: 'grantId' in decision.data.via ? 'grant' : 'scope' in decision.data.via ? decision.data.via.scope : 'openbao' });
    let value: string;
    try {
      value = await this.readValue(secret.state.valueRef, secret.state.scope, cmd, accessed.eventId);
    } catch (e) {
      throw await this.notDelivered(cmd, accessed.eventId, secret.state.version, e);
    }
    return { name, version: secret.state.version, value };
  }

  /**
   * The read failed after SecretAccessed was durable: record SecretValueNotDelivered naming it (so
   * the trail does not say a value left that did not), and answer what happened: 404 when the
   * secret was deleted meanwhile, 503 when the value is gone with the secret still active (a value
   * store restarted empty) or the store did not answer.
   */
  private async notDelivered(cmd: AccessSecretCommand, accessEventId: string, version: number, e: unknown): Promise<unknown> {
    const { projectId, name, ctx } = cmd;
    let reason: ValueNotDeliveredReason;
    let answer: unknown;
    if (e instanceof SecretValueMissingError) {
      const now = await this.secrets.forSecret(projectId, name).catch(() => undefined);
      if (now && now.state.status !== 'active') {
        reason = 'secret-deleted';
        answer = problems.notFound(`secret ${name} was deleted while it was being read; no value was delivered`);
      } else {
        reason = 'value-missing';
        this.logger.error('stored value missing for an active secret (value store restarted empty or restored from an old backup?)', { projectId, name, version });
        answer = new StoreUnavailableError('the stored value of this secret version is missing from the value store');
      }
    } else {
      reason = 'value-store-unavailable';
      answer = e;
    }
    const event: SecretValueNotDelivered = { type: 'SecretValueNotDelivered', data: { accessEventId, projectId, name, version, reason } };
    try {
      await this.store.appendToStream(StreamName.access(projectId, name), 'any', [envelope(event, ctx)]);
    } catch (appendError) {
      // The event store is away too: the SecretAccessed stands uncorrected. Say so where an operator looks.
      this.logger.error('could not record SecretValueNotDelivered; the SecretAccessed it corrects stays uncorrected', { projectId, name, accessEventId, reason, ...describeError(appendError) });
    }
    return answer;
  }
}

export const SECRET_COMMAND_HANDLERS = [
  CreateSecretHandler,
  UpdateSecretValueHandler,
  ChangeSecretMetadataHandler,
  DeleteSecretHandler,
  AccessSecretHandler,
];
