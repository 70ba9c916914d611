import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import {
  DenialReason,
  DomainEvent,
  EventStore,
  Principal,
  SecretCommand,
  secretDecider,
  SecretScope,
  secretSubjectOf,
  SecretState,
  SecretValueKey,
  SecretValueStore,
  StoreUnavailableError,
  StreamName,
} from '@app/domain';
import { EVENT_STORE, VALUE_STORE } from '@app/infra/nest/tokens';
import { AccessControl } from '../application/access-control';
import { CommandContext } from '../application/event-envelope';
import { handleCommand } from '../application/handle-command';
import { Loaded } from '../application/stream-state-cache';
import { problems } from '../http/problem';
import { CreateSecretDto, PatchSecretDto, SecretMetadataView } from './secret.dto';
import { metadataView, SecretStates } from './secret-states';
import { SecretAccess } from './secret-access';

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
  constructor(private readonly reader: SecretAccess) {}

  /** One secret: the batch code with one name (secret-access.ts), its denial as a 404 or 403 problem. */
  async execute({ projectId, name, purpose, principal, ctx, ciJobToken }: AccessSecretCommand) {
    const { items, denied } = await this.reader.read({ projectId, names: [name], purpose, principal, ctx, ciJobToken }, true);
    if (denied.length > 0) {
      if (denied[0].reason === 'secret-not-found') throw problems.notFound(`secret ${name} not found`);
      throw problems.forbidden(denied[0].reason as DenialReason);
    }
    return items[0];
  }
}

export const SECRET_COMMAND_HANDLERS = [
  CreateSecretHandler,
  UpdateSecretValueHandler,
  ChangeSecretMetadataHandler,
  DeleteSecretHandler,
  AccessSecretHandler,
];
