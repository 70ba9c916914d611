// Injection tokens for the adapters every app shares (wired in infra.module.ts).
export const CONFIG = Symbol('AppConfig');
export const LOGGER = Symbol('JsonLogger');
export const SQL = Symbol('SqlClient');
export const EVENT_STORE = Symbol('EventStore');
export const VALUE_STORE = Symbol('SecretValueStore');
export const TOKEN_VERIFIER = Symbol('TokenVerifier');
export const METRICS = Symbol('Metrics');
export const SECRET_CATALOG = Symbol('SecretCatalog');
export const COMPLIANCE_QUERIES = Symbol('ComplianceQueries');
export const READINESS_CHECKS = Symbol('ReadinessChecks');
export const POLICY_TARGET = Symbol('PolicyTarget');
export const AUDIT_LOG = Symbol('AuditLogStore');
export const AUDIT_SIGNING_KEY = Symbol('AuditSigningKey');
