export * from './openbao-audit';
export * from './drift';
