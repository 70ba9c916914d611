export * from './openbao-audit';
export * from './drift';
export * from './broker-marker';
export * from './unauthenticated-fold';
export * from './token-denial-fold';
