import { DynamicModule, Global, Module } from '@nestjs/common';
import { Infrastructure } from './infrastructure';
import { AUDIT_LOG, AUDIT_SIGNING_KEY, COMPLIANCE_QUERIES, CONFIG, POLICY_TARGET, EVENT_STORE, LOGGER, METRICS, READINESS_CHECKS, SECRET_CATALOG, SQL, TOKEN_VERIFIER, VALUE_STORE } from './tokens';

/** Hands the process-wide adapters to every app module. */
@Global()
@Module({})
export class InfraModule {
  static forRoot(infra: Infrastructure): DynamicModule {
    const providers = [
      { provide: CONFIG, useValue: infra.config },
      { provide: LOGGER, useValue: infra.logger },
      { provide: METRICS, useValue: infra.metrics },
      { provide: SQL, useValue: infra.sql },
      { provide: EVENT_STORE, useValue: infra.eventStore },
      { provide: VALUE_STORE, useValue: infra.valueStore },
      { provide: POLICY_TARGET, useValue: infra.policyTarget },
      { provide: SECRET_CATALOG, useValue: infra.secretCatalog },
      { provide: COMPLIANCE_QUERIES, useValue: infra.compliance },
      { provide: TOKEN_VERIFIER, useValue: infra.tokenVerifier },
      { provide: READINESS_CHECKS, useValue: infra.readiness },
      { provide: AUDIT_LOG, useValue: infra.auditLog },
      { provide: AUDIT_SIGNING_KEY, useValue: infra.auditSigningKey ?? null },
    ];
    return { module: InfraModule, providers, exports: providers.map((p) => p.provide) };
  }
}
