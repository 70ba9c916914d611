import { randomUUID } from 'node:crypto';
import { CURRENT_SCHEMA_VERSION, DomainEventUnion, EventToAppend } from '@app/domain';
export { toDomainEvent } from '@app/domain';

/** What every command carries besides its data: who, when, and which request it belongs to. */
export interface CommandContext {
  actor: { type: 'user' | 'ci-job' | 'system'; id: string };
  now: string;
  correlationId: string;
  /** Id of the request (the command) that caused the events. */
  causationId: string;
}

export function envelope(event: DomainEventUnion, ctx: CommandContext): EventToAppend {
  return {
    eventId: randomUUID(),
    type: event.type,
    schemaVersion: CURRENT_SCHEMA_VERSION[event.type],
    data: event.data as unknown as Record<string, unknown>,
    metadata: { correlationId: ctx.correlationId, causationId: ctx.causationId, actor: ctx.actor, occurredAt: ctx.now },
  };
}
