import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { CqrsModule } from '@nestjs/cqrs';
import { JsonLogger } from '@app/infra/logging/logger';
import { LOGGER } from '@app/infra/nest/tokens';
import { AccessControl } from './application/access-control';
import { ComplianceController } from './compliance/compliance.controller';
import { AuditAccess } from './audit/audit-access';
import { AuditController } from './audit/audit.controller';
import { EvidenceController } from './audit/evidence.controller';
import { GrantsController } from './grants/grants.controller';
import { GRANT_COMMAND_HANDLERS } from './grants/grant-commands';
import { GrantExpiryRecorder } from './grants/grant-expiry-recorder';
import { BearerAuthGuard } from './http/auth.guard';
import { ProblemFilter } from './http/problem.filter';
import { SecretsController } from './secrets/secrets.controller';
import { SECRET_COMMAND_HANDLERS } from './secrets/secret-commands';
import { SecretStates } from './secrets/secret-states';

/** The REST commands of API.md: controllers → CommandBus → handlers → handleCommand. */
@Module({
  imports: [CqrsModule.forRoot({ rethrowUnhandled: true })],
  controllers: [SecretsController, GrantsController, ComplianceController, AuditController, EvidenceController],
  providers: [
    AccessControl,
    AuditAccess,
    GrantExpiryRecorder,
    SecretStates,
    ...SECRET_COMMAND_HANDLERS,
    ...GRANT_COMMAND_HANDLERS,
    { provide: APP_GUARD, useClass: BearerAuthGuard },
    { provide: APP_FILTER, useFactory: (logger: JsonLogger) => new ProblemFilter(logger.child('http')), inject: [LOGGER] },
  ],
})
export class CommandApiModule {}
