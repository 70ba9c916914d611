export * from './ocsf';
export * from './audit-key';
export * from './denial-burst';
