export * from './openbao-audit';
