import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiParam, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ACCESS_REQUEST_STATUSES, AccessRequestStatus, Principal } from '@app/domain';
import { AccessControl } from '../application/access-control';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { FieldError, problems } from '../http/problem';
import { rejectUnknownParams } from '../http/params';
import { GROUP_ROUTE, PlaceRoute, PROJECT_ROUTE } from '../http/place-route';
import { BreakGlassGrantIdPipe, checkRequestPage, checkRequestStatus, listAccessRequests, listBreakGlasses, REQUEST_PAGE, RequestIdPipe } from './access-request-listing';
import { AccessRequestIndex } from './access-request-index';
import { AuthenticatedRequest, commandContext } from '../http/request-context';
import {
  AccessRequestCreatedView,
  AccessRequestDecidedView,
  AccessRequestListView,
  ApproveAccessRequestDto,
  BreakGlassDto,
  BreakGlassListView,
  BreakGlassReviewedView,
  CreateAccessRequestDto,
  DenyAccessRequestDto,
  ReviewBreakGlassDto,
  TimeBoxedGrantView,
} from './access-request.dto';
import {
  ApproveAccessRequestCommand,
  BreakGlassCommand,
  CancelAccessRequestCommand,
  DenyAccessRequestCommand,
  RequestAccessCommand,
  ReviewBreakGlassCommand,
} from './access-request-commands';

function accessRequestsControllerFor(place: PlaceRoute) {
  @ApiTags('access-requests')
  @ApiBearerAuth()
  @ApiProduces('application/json', 'application/problem+json')
  @ApiProblems()
  @ApiParam({ name: place.param, description: place.description, schema: { type: 'string', pattern: place.pattern } })
  @Controller(`${place.prefix}/access-requests`)
  class AccessRequestsController {
    constructor(private readonly commands: CommandBus, private readonly access: AccessControl, private readonly index: AccessRequestIndex) {}

    @Post()
    @ApiCreatedResponse({ type: AccessRequestCreatedView, description: 'Any user, for themself. Pending until approved, denied, cancelled or expired (ACCESS_REQUEST_TTL_SECONDS).' })
    create(@Param(place.param, place.pipe) projectId: string, @Body() body: CreateAccessRequestDto, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest) {
      return this.commands.execute(new RequestAccessCommand(projectId, body, p, commandContext(req, p)));
    }

    @Get()
    @ApiQuery({ name: 'status', required: false, enum: ACCESS_REQUEST_STATUSES })
    @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: REQUEST_PAGE.max, default: REQUEST_PAGE.default } })
    @ApiQuery({ name: 'cursor', required: false, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,160}$' } })
    @ApiOkResponse({ type: AccessRequestListView, description: 'manage-grants: every request; anyone else: their own; in the order they were made, a page of `limit` at a time (nextCursor: the next page, null on the last).' })
    async list(
      @Param(place.param, place.pipe) projectId: string,
      @Query() query: Record<string, unknown>,
      @CurrentPrincipal() p: Principal,
      @Req() req: AuthenticatedRequest,
    ): Promise<AccessRequestListView> {
      const errors: FieldError[] = [];
      rejectUnknownParams(query, ['status', 'limit', 'cursor'], errors);
      const status = query.status;
      checkRequestStatus(status, errors);
      const page = checkRequestPage(query.limit, query.cursor, errors);
      if (errors.length > 0) throw problems.badRequest(`invalid ${errors.map((e) => e.field).join(', ')}`, errors);
      return listAccessRequests(this.access, this.index, p, projectId, { status: status as AccessRequestStatus | undefined, ...page }, commandContext(req, p));
    }

    @Post(':requestId/approve')
    @HttpCode(200)
    @ApiParam({ name: 'requestId', schema: { type: 'string', format: 'uuid' } })
    @ApiOkResponse({ type: TimeBoxedGrantView, description: 'manage-grants, never the requester (nor through a group grant that includes them): a grant ending durationSeconds after approval.' })
    approve(
      @Param(place.param, place.pipe) projectId: string,
      @Param('requestId', RequestIdPipe) requestId: string,
      @Body() body: ApproveAccessRequestDto,
      @CurrentPrincipal() p: Principal,
      @Req() req: AuthenticatedRequest,
    ) {
      return this.commands.execute(new ApproveAccessRequestCommand(projectId, requestId, body, p, commandContext(req, p)));
    }

    @Post(':requestId/deny')
    @HttpCode(200)
    @ApiParam({ name: 'requestId', schema: { type: 'string', format: 'uuid' } })
    @ApiOkResponse({ type: AccessRequestDecidedView })
    deny(
      @Param(place.param, place.pipe) projectId: string,
      @Param('requestId', RequestIdPipe) requestId: string,
      @Body() body: DenyAccessRequestDto,
      @CurrentPrincipal() p: Principal,
      @Req() req: AuthenticatedRequest,
    ) {
      return this.commands.execute(new DenyAccessRequestCommand(projectId, requestId, body, p, commandContext(req, p)));
    }

    @Delete(':requestId')
    @HttpCode(204)
    @ApiParam({ name: 'requestId', schema: { type: 'string', format: 'uuid' } })
    @ApiNoContentResponse({ description: 'Cancelled by the requester.' })
    async cancel(@Param(place.param, place.pipe) projectId: string, @Param('requestId', RequestIdPipe) requestId: string, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest) {
      await this.commands.execute(new CancelAccessRequestCommand(projectId, requestId, p, commandContext(req, p)));
    }
}
// Its own name per place kind: OpenAPI operation ids are made from it.
Object.defineProperty(AccessRequestsController, 'name', { value: `${place.name}AccessRequestsController` });
return AccessRequestsController;
}

function breakGlassControllerFor(place: PlaceRoute) {
  @ApiTags('access-requests')
  @ApiBearerAuth()
  @ApiProduces('application/json', 'application/problem+json')
  @ApiProblems()
  @ApiParam({ name: place.param, description: place.description, schema: { type: 'string', pattern: place.pattern } })
  @Controller(`${place.prefix}/break-glass`)
  class BreakGlassController {
    constructor(private readonly commands: CommandBus, private readonly access: AccessControl) {}

    @Post()
    @ApiCreatedResponse({ type: TimeBoxedGrantView, description: 'A user holding the break-glass role: an immediate owner-level grant, audited at the highest severity.' })
    invoke(@Param(place.param, place.pipe) projectId: string, @Body() body: BreakGlassDto, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest) {
      return this.commands.execute(new BreakGlassCommand(projectId, body, p, commandContext(req, p)));
    }

    @Get()
    @ApiQuery({ name: 'reviewed', required: false, enum: ['true', 'false'] })
    @ApiOkResponse({ type: BreakGlassListView, description: 'manage-grants or read-audit: the project\'s break-glasses; reviewed=false lists those awaiting review.' })
    async list(
      @Param(place.param, place.pipe) projectId: string,
      @Query() query: Record<string, unknown>,
      @CurrentPrincipal() p: Principal,
      @Req() req: AuthenticatedRequest,
    ): Promise<BreakGlassListView> {
      const errors: FieldError[] = [];
      rejectUnknownParams(query, ['reviewed'], errors);
      if (query.reviewed !== undefined && query.reviewed !== 'true' && query.reviewed !== 'false') errors.push({ field: 'reviewed', message: 'reviewed must be true or false' });
      if (errors.length > 0) throw problems.badRequest(`invalid ${errors.map((e) => e.field).join(', ')}`, errors);
      const items = await listBreakGlasses(this.access, p, projectId, query.reviewed === undefined ? undefined : query.reviewed === 'true', commandContext(req, p));
      return { items };
    }

    @Post(':grantId/review')
    @HttpCode(200)
    @ApiParam({ name: 'grantId', schema: { type: 'string', format: 'uuid' } })
    @ApiOkResponse({ type: BreakGlassReviewedView, description: 'manage-grants, not the user who broke the glass.' })
    review(
      @Param(place.param, place.pipe) projectId: string,
      @Param('grantId', BreakGlassGrantIdPipe) grantId: string,
      @Body() body: ReviewBreakGlassDto,
      @CurrentPrincipal() p: Principal,
      @Req() req: AuthenticatedRequest,
    ) {
      return this.commands.execute(new ReviewBreakGlassCommand(projectId, grantId, body, p, commandContext(req, p)));
    }
}
Object.defineProperty(BreakGlassController, 'name', { value: `${place.name}BreakGlassController` });
return BreakGlassController;
}

export const AccessRequestsController = accessRequestsControllerFor(PROJECT_ROUTE);
export const BreakGlassController = breakGlassControllerFor(PROJECT_ROUTE);
/** Access requests and break-glass on a group (issue 20): the group's own grants decide, as a project's own do. */
export const GroupAccessRequestsController = accessRequestsControllerFor(GROUP_ROUTE);
export const GroupBreakGlassController = breakGlassControllerFor(GROUP_ROUTE);
