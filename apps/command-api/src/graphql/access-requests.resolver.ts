import { CommandBus } from '@nestjs/cqrs';
import { Args, Context, Field, InputType, Int, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { Allow } from 'class-validator';
import { AccessRequestStatus } from '@app/domain';
import { AccessControl } from '../application/access-control';
import {
  ApproveAccessRequestCommand,
  BreakGlassCommand,
  CancelAccessRequestCommand,
  DenyAccessRequestCommand,
  RequestAccessCommand,
  ReviewBreakGlassCommand,
} from '../access-requests/access-request-commands';
import { ApproveAccessRequestDto, BreakGlassDto, CreateAccessRequestDto, DenyAccessRequestDto, ReviewBreakGlassDto } from '../access-requests/access-request.dto';
import { BreakGlassGrantIdPipe, checkRequestPage, checkRequestStatus, listAccessRequests, listBreakGlasses, RequestIdPipe } from '../access-requests/access-request-listing';
import { AccessRequestIndex } from '../access-requests/access-request-index';
import { ProjectIdPipe } from '../http/params';
import { FieldError, problems } from '../http/problem';
import { commandContext } from '../http/request-context';
import { userErrors } from './errors';
import { GqlContext, principalOf, validated } from './secrets.resolver';
import { PageInfo, UserError } from './types';

@ObjectType()
export class UserRef {
  @Field() type!: string;
  @Field() id!: string;
}

@ObjectType()
export class AccessRequest {
  @Field() requestId!: string;
  @Field(() => UserRef) requester!: UserRef;
  @Field() role!: string;
  @Field(() => String, { nullable: true }) environment!: string | null;
  @Field(() => String, { nullable: true }) branch!: string | null;
  @Field(() => Int) durationSeconds!: number;
  @Field() reason!: string;
  @Field() requestedAt!: string;
  @Field({ description: 'When the request expires unreviewed.' }) expiresAt!: string;
  @Field({ description: 'pending, approved, denied, expired or cancelled' }) status!: string;
  @Field(() => String, { nullable: true }) decidedBy!: string | null;
  @Field(() => String, { nullable: true }) decidedAt!: string | null;
  @Field(() => String, { nullable: true }) comment!: string | null;
  @Field(() => String, { nullable: true }) grantId!: string | null;
  @Field(() => String, { nullable: true }) grantExpiresAt!: string | null;
}

@ObjectType()
export class AccessRequestEdge {
  @Field({ description: 'The same cursor as REST access-requests nextCursor' }) cursor!: string;
  @Field(() => AccessRequest) node!: AccessRequest;
}

@ObjectType({ description: 'A page of access requests, in the order they were made (first ≤ 100, priced by first).' })
export class AccessRequestConnection {
  @Field(() => [AccessRequestEdge]) edges!: AccessRequestEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType()
export class BreakGlassReview {
  @Field() outcome!: string;
  @Field() comment!: string;
  @Field() reviewedBy!: string;
  @Field() reviewedAt!: string;
}

@ObjectType()
export class BreakGlass {
  @Field() grantId!: string;
  @Field(() => UserRef) principal!: UserRef;
  @Field() reason!: string;
  @Field(() => Int) durationSeconds!: number;
  @Field() invokedAt!: string;
  @Field() expiresAt!: string;
  @Field(() => BreakGlassReview, { nullable: true }) review!: BreakGlassReview | null;
}

@InputType()
export class AccessRequestCreateInput {
  @Allow() @Field() projectId!: string;
  @Allow() @Field() role!: string;
  @Allow() @Field(() => String, { nullable: true }) environment?: string;
  @Allow() @Field(() => String, { nullable: true }) branch?: string;
  @Allow() @Field(() => Int, { description: '60-28800; the grant lasts this long from approval' }) durationSeconds!: number;
  @Allow() @Field({ description: '1-500 characters' }) reason!: string;
}

@InputType()
export class BreakGlassInput {
  @Allow() @Field() projectId!: string;
  @Allow() @Field({ description: '1-500 characters' }) reason!: string;
  @Allow() @Field(() => Int, { description: '60-3600' }) durationSeconds!: number;
}

@ObjectType()
export class AccessRequestCreatePayload {
  @Field(() => String, { nullable: true }) requestId!: string | null;
  @Field(() => String, { nullable: true }) status!: string | null;
  @Field(() => String, { nullable: true }) expiresAt!: string | null;
  @Field(() => [UserError]) errors!: UserError[];
}

@ObjectType({ description: 'A time-boxed grant (approval or break-glass).' })
export class TimeBoxedGrantPayload {
  @Field(() => String, { nullable: true }) grantId!: string | null;
  @Field(() => String, { nullable: true }) expiresAt!: string | null;
  @Field(() => [UserError]) errors!: UserError[];
}

@ObjectType()
export class AccessRequestDenyPayload {
  @Field(() => String, { nullable: true }) requestId!: string | null;
  @Field(() => String, { nullable: true }) status!: string | null;
  @Field(() => [UserError]) errors!: UserError[];
}

@ObjectType()
export class AccessRequestCancelPayload {
  @Field() cancelled!: boolean;
  @Field(() => [UserError]) errors!: UserError[];
}

@ObjectType()
export class BreakGlassReviewPayload {
  @Field(() => String, { nullable: true }) grantId!: string | null;
  @Field(() => String, { nullable: true }) outcome!: string | null;
  @Field(() => [UserError]) errors!: UserError[];
}

const projectIdPipe = new ProjectIdPipe();
const requestIdPipe = new RequestIdPipe();
const breakGlassGrantIdPipe = new BreakGlassGrantIdPipe();

/** Access requests and break-glass: the listing rules of access-request-listing.ts and the commands AccessRequestsController / BreakGlassController send. */
@Resolver()
export class AccessRequestsResolver {
  constructor(private readonly commands: CommandBus, private readonly access: AccessControl, private readonly index: AccessRequestIndex) {}

  @Query(() => AccessRequestConnection, { description: 'manage-grants: every request; anyone else: their own; REST access-requests paged the same way.' })
  async accessRequests(
    @Args('projectId') projectId: string,
    @Args('status', { type: () => String, nullable: true, description: 'pending, approved, denied, expired or cancelled' }) status: string | undefined,
    @Args('first', { type: () => Int, nullable: true }) first: number | undefined,
    @Args('after', { type: () => String, nullable: true }) after: string | undefined,
    @Context() ctx: GqlContext,
  ): Promise<AccessRequestConnection> {
    const p = principalOf(ctx);
    const errors: FieldError[] = [];
    const s = status ?? undefined;
    checkRequestStatus(s, errors);
    const page = checkRequestPage(first, after, errors, { limit: 'first', cursor: 'after' });
    if (errors.length > 0) throw problems.badRequest(`invalid ${errors.map((e) => e.field).join(', ')}`, errors);
    const id = projectIdPipe.transform(projectId);
    const { items } = await listAccessRequests(this.access, this.index, p, id, { status: s as AccessRequestStatus | undefined, limit: page.limit + 1, after: page.after }, commandContext(ctx.req, p));
    const shown = items.slice(0, page.limit);
    const cursors = shown.map((r) => this.index.cursorOf(r));
    return { edges: shown.map((node, i) => ({ cursor: cursors[i], node })), pageInfo: { hasNextPage: items.length > page.limit, endCursor: cursors.at(-1) ?? null } };
  }

  @Query(() => [BreakGlass], { description: 'read-audit or manage-grants: the project\'s break-glasses; reviewed: false lists those awaiting review.' })
  breakGlasses(@Args('projectId') projectId: string, @Args('reviewed', { type: () => Boolean, nullable: true }) reviewed: boolean | undefined, @Context() ctx: GqlContext): Promise<BreakGlass[]> {
    const p = principalOf(ctx);
    return listBreakGlasses(this.access, p, projectIdPipe.transform(projectId), reviewed ?? undefined, commandContext(ctx.req, p));
  }

  @Mutation(() => AccessRequestCreatePayload, { description: 'Any user, for themself: pending until approved, denied, cancelled or expired.' })
  async accessRequestCreate(@Args('input') input: AccessRequestCreateInput, @Context() ctx: GqlContext): Promise<AccessRequestCreatePayload> {
    const p = principalOf(ctx);
    try {
      const { projectId, ...rest } = input;
      const body = await validated(CreateAccessRequestDto, rest);
      return { ...((await this.commands.execute(new RequestAccessCommand(projectIdPipe.transform(projectId), body, p, commandContext(ctx.req, p)))) as { requestId: string; status: string; expiresAt: string }), errors: [] };
    } catch (e) {
      return { requestId: null, status: null, expiresAt: null, errors: userErrors(e) };
    }
  }

  @Mutation(() => TimeBoxedGrantPayload, { description: 'manage-grants, never the requester: a grant ending durationSeconds after approval.' })
  async accessRequestApprove(
    @Args('projectId') projectId: string,
    @Args('requestId') requestId: string,
    @Args('comment', { type: () => String, nullable: true }) comment: string | undefined,
    @Context() ctx: GqlContext,
  ): Promise<TimeBoxedGrantPayload> {
    const p = principalOf(ctx);
    try {
      const id = projectIdPipe.transform(projectId);
      const rid = requestIdPipe.transform(requestId);
      const body = await validated(ApproveAccessRequestDto, comment === undefined || comment === null ? {} : { comment });
      return { ...((await this.commands.execute(new ApproveAccessRequestCommand(id, rid, body, p, commandContext(ctx.req, p)))) as { grantId: string; expiresAt: string }), errors: [] };
    } catch (e) {
      return { grantId: null, expiresAt: null, errors: userErrors(e) };
    }
  }

  @Mutation(() => AccessRequestDenyPayload, { description: 'manage-grants.' })
  async accessRequestDeny(@Args('projectId') projectId: string, @Args('requestId') requestId: string, @Args('comment') comment: string, @Context() ctx: GqlContext): Promise<AccessRequestDenyPayload> {
    const p = principalOf(ctx);
    try {
      const id = projectIdPipe.transform(projectId);
      const rid = requestIdPipe.transform(requestId);
      const body = await validated(DenyAccessRequestDto, { comment });
      return { ...((await this.commands.execute(new DenyAccessRequestCommand(id, rid, body, p, commandContext(ctx.req, p)))) as { requestId: string; status: string }), errors: [] };
    } catch (e) {
      return { requestId: null, status: null, errors: userErrors(e) };
    }
  }

  @Mutation(() => AccessRequestCancelPayload, { description: 'The requester.' })
  async accessRequestCancel(@Args('projectId') projectId: string, @Args('requestId') requestId: string, @Context() ctx: GqlContext): Promise<AccessRequestCancelPayload> {
    const p = principalOf(ctx);
    try {
      await this.commands.execute(new CancelAccessRequestCommand(projectIdPipe.transform(projectId), requestIdPipe.transform(requestId), p, commandContext(ctx.req, p)));
      return { cancelled: true, errors: [] };
    } catch (e) {
      return { cancelled: false, errors: userErrors(e) };
    }
  }

  @Mutation(() => TimeBoxedGrantPayload, { description: 'A user holding the break-glass role: an immediate owner-level grant, audited at the highest severity.' })
  async breakGlass(@Args('input') input: BreakGlassInput, @Context() ctx: GqlContext): Promise<TimeBoxedGrantPayload> {
    const p = principalOf(ctx);
    try {
      const { projectId, ...rest } = input;
      const body = await validated(BreakGlassDto, rest);
      return { ...((await this.commands.execute(new BreakGlassCommand(projectIdPipe.transform(projectId), body, p, commandContext(ctx.req, p)))) as { grantId: string; expiresAt: string }), errors: [] };
    } catch (e) {
      return { grantId: null, expiresAt: null, errors: userErrors(e) };
    }
  }

  @Mutation(() => BreakGlassReviewPayload, { description: 'manage-grants, not the user who broke the glass.' })
  async breakGlassReview(
    @Args('projectId') projectId: string,
    @Args('grantId') grantId: string,
    @Args('outcome', { description: 'justified or unjustified' }) outcome: string,
    @Args('comment') comment: string,
    @Context() ctx: GqlContext,
  ): Promise<BreakGlassReviewPayload> {
    const p = principalOf(ctx);
    try {
      const id = projectIdPipe.transform(projectId);
      const gid = breakGlassGrantIdPipe.transform(grantId);
      const body = await validated(ReviewBreakGlassDto, { outcome, comment });
      return { ...((await this.commands.execute(new ReviewBreakGlassCommand(id, gid, body, p, commandContext(ctx.req, p)))) as { grantId: string; outcome: string }), errors: [] };
    } catch (e) {
      return { grantId: null, outcome: null, errors: userErrors(e) };
    }
  }
}
