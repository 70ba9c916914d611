import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { CqrsModule } from '@nestjs/cqrs';
import { JsonLogger } from '@app/infra/logging/logger';
import { LOGGER } from '@app/infra/nest/tokens';
import { AccessControl } from './application/access-control';
import { ComplianceController } from './compliance/compliance.controller';
import { SecretHistoryController } from './compliance/secret-history.controller';
import { AuditRecordIndexController } from './console/audit-record-index.controller';
import { ConsoleModule } from './console/console.module';
import { AccessRequestImpactController } from './impact/access-request-impact.controller';
import { ScopeTestController } from './impact/scope-test.controller';
import { MeController } from './me/me.controller';
import { AccessRequestsController, BreakGlassController, GroupAccessRequestsController, GroupBreakGlassController } from './access-requests/access-requests.controller';
import { ACCESS_REQUEST_COMMAND_HANDLERS } from './access-requests/access-request-commands';
import { AccessRequestExpiryRecorder } from './access-requests/access-request-expiry-recorder';
import { AccessRequestIndex } from './access-requests/access-request-index';
import { AuditAccess } from './audit/audit-access';
import { AuditController } from './audit/audit.controller';
import { EvidenceController } from './audit/evidence.controller';
import { GrantsController, GroupGrantsController } from './grants/grants.controller';
import { ExposureReportsController } from './exposure/exposure.controller';
import { ExposureReports } from './exposure/exposure-reports';
import { GroupComplianceController } from './groups/group-compliance.controller';
import { ProjectGroupController } from './groups/project-group.controller';
import { graphqlRoot } from './graphql/graphql-api.module';
import { GRAPHQL_RESOLVERS } from './graphql/resolvers';
import { GRANT_COMMAND_HANDLERS } from './grants/grant-commands';
import { GrantExpiryRecorder } from './grants/grant-expiry-recorder';
import { BearerAuthGuard } from './http/auth.guard';
import { ProblemFilter } from './http/problem.filter';
import { GroupSecretsController, SecretsController } from './secrets/secrets.controller';
import { SecretBatchAccessController } from './secrets/secret-batch-access.controller';
import { SecretAccess } from './secrets/secret-access';
import { SECRET_COMMAND_HANDLERS } from './secrets/secret-commands';
import { SecretStates } from './secrets/secret-states';
import { RotationOverdueRecorder } from './secrets/rotation-overdue-recorder';

/** The REST commands of API.md: controllers → CommandBus → handlers → handleCommand. */
@Module({
  imports: [CqrsModule.forRoot({ rethrowUnhandled: true }), graphqlRoot(), ConsoleModule],
  controllers: [SecretsController, SecretBatchAccessController, GrantsController, ComplianceController, AuditController, EvidenceController, AccessRequestsController, BreakGlassController, MeController, AccessRequestImpactController, AuditRecordIndexController, ScopeTestController, SecretHistoryController, ProjectGroupController, GroupSecretsController, GroupGrantsController, GroupComplianceController, ExposureReportsController, GroupAccessRequestsController, GroupBreakGlassController],
  providers: [
    AccessControl,
    AuditAccess,
    GrantExpiryRecorder,
    AccessRequestIndex,
    AccessRequestExpiryRecorder,
    RotationOverdueRecorder,
    SecretStates,
    SecretAccess,
    ExposureReports,
    ...GRAPHQL_RESOLVERS,
    ...SECRET_COMMAND_HANDLERS,
    ...GRANT_COMMAND_HANDLERS,
    ...ACCESS_REQUEST_COMMAND_HANDLERS,
    { provide: APP_GUARD, useClass: BearerAuthGuard },
    { provide: APP_FILTER, useFactory: (logger: JsonLogger) => new ProblemFilter(logger.child('http')), inject: [LOGGER] },
  ],
})
export class CommandApiModule {}
