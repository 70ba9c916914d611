import { Decider, DomainEvent, fold } from '../decider';
import { DomainError } from '../errors';

/** given(events).when(command).then(events) / .thenThrows(code) — one helper for every decider. */
export const DeciderSpecification = {
  for<S, C, E extends DomainEvent>(decider: Decider<S, C, E>) {
    return {
      given(events: E[]) {
        return {
          when(command: C) {
            const run = () => decider.decide(command, fold(decider, events));
            return {
              then(expected: E[]) {
                expect(run()).toEqual(expected);
              },
              thenNothingHappens() {
                expect(run()).toEqual([]);
              },
              thenThrows(code: string, kind?: DomainError['kind']) {
                let caught: unknown;
                try {
                  run();
                } catch (e) {
                  caught = e;
                }
                expect(caught).toBeInstanceOf(DomainError);
                expect((caught as DomainError).code).toBe(code);
                if (kind) expect((caught as DomainError).kind).toBe(kind);
              },
            };
          },
        };
      },
    };
  },
};
