import { Controller, Get, Inject, Param, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { EventStore, Principal } from '@app/domain';
import { COMPLIANCE_QUERIES, EVENT_STORE } from '@app/infra/nest/tokens';
import { ComplianceQueries } from '@app/infra/read-models/compliance';
import { AccessControl } from '../application/access-control';
import { answerAccessHistory, answerReaders, PublicHistoryItem } from '../compliance/compliance-answers';
import { AccessHistoryDocs, ReadersDocs } from '../compliance/compliance.controller';
import { answerSecretHistory, SecretHistoryDocs } from '../compliance/secret-history.controller';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { GROUP_ID_PATTERN, GroupKeyPipe, SecretNamePipe } from '../http/params';
import { AuthenticatedRequest } from '../http/request-context';

/**
 * The reviewers' queries on a group (API.md, third round): access history of the group's secrets,
 * who could read one at T (the group's own grants and those of every group above it, and the CI
 * jobs of every project in or below it at T), and a group secret's history. The same answers as
 * the project endpoints (compliance/*), on the group's place key; read-audit on the group, own or
 * inherited. Every answer names the group as `groupId`, never by its internal key.
 */
@ApiTags('groups')
@ApiBearerAuth()
@ApiProblems()
@ApiParam({ name: 'groupId', description: 'Full path, URL-encoded as one segment (acme%2Fpayments).', schema: { type: 'string', pattern: GROUP_ID_PATTERN.source } })
@Controller('v1/groups/:groupId')
export class GroupComplianceController {
  constructor(
    private readonly access: AccessControl,
    @Inject(COMPLIANCE_QUERIES) private readonly queries: ComplianceQueries,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  @Get('access-history')
  @AccessHistoryDocs()
  @ApiOkResponse({
    description:
      "Decisions about the group's own secrets, newest first, as the project's: rows name `groupId`; a CI job's decision names the job's project (`jobProjectId`); `via.inheritedFrom` an inherited grant's group.",
  })
  accessHistory(
    @Param('groupId', GroupKeyPipe) key: string,
    @Query() query: Record<string, unknown>,
    @CurrentPrincipal() p: Principal,
    @Req() req: AuthenticatedRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ items: PublicHistoryItem[]; nextCursor: string | null } | void> {
    return answerAccessHistory({ access: this.access, queries: this.queries }, key, query, p, req, res);
  }

  @Get('secrets/:name/readers')
  @ReadersDocs()
  @ApiOkResponse({
    description:
      '`{at, readers: [{principal, via}]}`: every user or group whose grant on this group or a group above it allowed reading the value at `at` (`via.inheritedFrom` for the latter), and per project in or below the group at `at` the CI scope whose jobs could (`via.memberOf`: the group the project was in).',
  })
  readers(
    @Param('groupId', GroupKeyPipe) key: string,
    @Param('name', SecretNamePipe) name: string,
    @Query() query: Record<string, unknown>,
    @CurrentPrincipal() p: Principal,
    @Req() req: AuthenticatedRequest,
  ) {
    return answerReaders({ access: this.access, queries: this.queries }, key, name, query, p, req);
  }

  @Get('secrets/:name/history')
  @SecretHistoryDocs()
  history(
    @Param('groupId', GroupKeyPipe) key: string,
    @Param('name', SecretNamePipe) name: string,
    @Query() query: Record<string, unknown>,
    @CurrentPrincipal() p: Principal,
    @Req() req: AuthenticatedRequest,
  ) {
    return answerSecretHistory({ access: this.access, store: this.store }, key, name, query, p, req);
  }
}
