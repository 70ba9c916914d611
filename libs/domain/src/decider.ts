// The decider shape (after Emmett / Jérémie Chassaing): pure functions, time from the command.

export interface DomainEvent<T extends string = string, D extends object = Record<string, unknown>> {
  type: T;
  data: D;
}

export interface Decider<State, Command, Event extends DomainEvent> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
}

export function fold<State, Event extends DomainEvent>(
  decider: Pick<Decider<State, never, Event>, 'evolve' | 'initialState'>,
  events: readonly Event[],
  from: State = decider.initialState(),
): State {
  return events.reduce((s, e) => decider.evolve(s, e), from);
}

/** Exhaustiveness guard at the end of a switch over a discriminated union. */
export function assertNever(value: never): never {
  throw new Error(`unexpected variant: ${JSON.stringify(value)}`);
}
