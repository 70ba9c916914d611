// Typed domain errors; the API maps each kind to one HTTP status (problem+json).

export type DomainErrorKind =
  | 'not-found' // 404
  | 'already-exists' // 409
  | 'conflict' // 409 (an invariant, e.g. last owner)
  | 'invalid' // 400
  | 'forbidden'; // 403 (a rule about who may act, e.g. four-eyes)

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    readonly code: string,
    message: string,
    /** The request field the error is about, when there is one. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const notFound = (code: string, message: string) => new DomainError('not-found', code, message);
export const alreadyExists = (code: string, message: string) => new DomainError('already-exists', code, message);
export const conflict = (code: string, message: string) => new DomainError('conflict', code, message);
export const forbidden = (code: string, message: string) => new DomainError('forbidden', code, message);
export const invalid = (code: string, message: string, field?: string) => new DomainError('invalid', code, message, field);
