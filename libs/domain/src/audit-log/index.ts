// Pure audit-log primitives: Merkle hashing and proofs, signed checkpoints, DSSE and in-toto.
export * from './merkle';
export * from './note';
export * from './dsse';
export * from './in-toto';
