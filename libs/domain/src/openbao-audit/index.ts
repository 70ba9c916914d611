export * from './openbao-audit';
export * from './drift';
export * from './broker-marker';
