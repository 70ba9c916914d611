import { toDomainEvent, upcast } from './events';
import { RecordedEvent } from './ports/event-store';

describe('upcast', () => {
  const registry = { Thing: { 1: (d: Record<string, unknown>) => ({ ...d, b: 2 }), 2: (d: Record<string, unknown>) => ({ ...d, c: 3 }) } };
  const current = { Thing: 3 };

  it('applies each step from the stored version to the current one', () => {
    expect(upcast('Thing', 1, { a: 1 }, registry, current)).toEqual({ a: 1, b: 2, c: 3 });
    expect(upcast('Thing', 3, { a: 1 }, registry, current)).toEqual({ a: 1 });
  });

  it('refuses unknown types, versions from the future and missing steps', () => {
    expect(() => upcast('Other', 1, {}, registry, current)).toThrow(/unknown event type/);
    expect(() => upcast('Thing', 4, {}, registry, current)).toThrow(/newer than this code/);
    expect(() => upcast('Thing', 1, {}, { Thing: { 2: registry.Thing[2] } }, current)).toThrow(/no upcaster/);
  });

  it('passes current events of the real registry through unchanged', () => {
    expect(upcast('SecretCreated', 1, { x: 1 })).toEqual({ x: 1 });
  });

  describe('repairs events written in a shape their version never allowed (history is not rewritten)', () => {
    const recorded = (type: string, data: Record<string, unknown>): RecordedEvent =>
      ({ type, schemaVersion: 1, data, streamName: 'secret-p-TOKEN', metadata: {}, revision: 0, position: 0n, eventId: 'e', recordedAt: new Date() }) as unknown as RecordedEvent;
    const changed = (protectedOnly: unknown) => ({ projectId: 'p', name: 'TOKEN', description: 'd', scope: { environment: 'prod', branch: null, protectedOnly }, changedBy: 'alice' });

    it('reads a recorded protectedOnly: null as false (what every decision since applied), leaving the stored data as it was', () => {
      const stored = changed(null);
      expect(toDomainEvent(recorded('SecretMetadataChanged', stored)).data).toEqual(changed(false));
      expect(stored.scope.protectedOnly).toBeNull();
      expect(upcast('SecretCreated', 1, { projectId: 'p', name: 'T', description: null, scope: { environment: null, branch: null, protectedOnly: null }, version: 1, valueRef: 'r', createdBy: 'a' }))
        .toMatchObject({ scope: { protectedOnly: false } });
    });

    it('mends other non-nullable or ill-formed fields: a glob that is not a string, lone surrogates in stored text', () => {
      expect(upcast('SecretMetadataChanged', 1, { ...changed(true), scope: { environment: 7, branch: 'main', protectedOnly: true } })).toMatchObject({
        scope: { environment: null, branch: 'main', protectedOnly: true },
      });
      expect(upcast('SecretMetadataChanged', 1, { ...changed(false), description: 'a\ud800' })).toMatchObject({ description: 'a\ufffd' });
      expect(upcast('SecretAccessDenied', 1, { purpose: 'x\udc00' })).toEqual({ purpose: 'x\ufffd' });
    });

    it('leaves valid events exactly as they are (same object)', () => {
      const ok = changed(true);
      expect(upcast('SecretMetadataChanged', 1, ok)).toBe(ok);
    });
  });
});
