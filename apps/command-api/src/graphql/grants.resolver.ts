import { Inject } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { Args, Context, Field, InputType, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { Allow } from 'class-validator';
import { COMPLIANCE_QUERIES } from '@app/infra/nest/tokens';
import { ComplianceQueries } from '@app/infra/read-models/compliance';
import { AccessControl } from '../application/access-control';
import { commandContext } from '../http/request-context';
import { GrantIdPipe, ProjectIdPipe } from '../http/params';
import { CreateGrantDto } from '../grants/grant.dto';
import { GrantRoleCommand, RevokeRoleCommand } from '../grants/grant-commands';
import { listProjectGrants } from '../grants/grant-listing';
import { userErrors } from './errors';
import { loadersOf } from './loaders';
import { GqlContext, principalOf, validated } from './secrets.resolver';
import { UserError } from './types';

@ObjectType()
export class GrantPrincipal {
  @Field() type!: string;
  @Field() id!: string;
}

@ObjectType()
export class ProjectGrant {
  @Field() grantId!: string;
  @Field(() => GrantPrincipal) principal!: GrantPrincipal;
  @Field() role!: string;
  @Field(() => String, { nullable: true }) environment!: string | null;
  @Field(() => String, { nullable: true }) branch!: string | null;
  @Field(() => String, { nullable: true }) expiresAt!: string | null;
  @Field() grantedBy!: string;
  @Field() grantedAt!: string;
  @Field(() => String, { nullable: true }) revokedAt!: string | null;
  @Field(() => String, { nullable: true }) revokedBy!: string | null;
  @Field() status!: string;
}

@InputType()
export class GrantPrincipalInput {
  @Allow() @Field() type!: string;
  @Allow() @Field() id!: string;
}

@InputType()
export class ProjectGrantCreateInput {
  @Allow() @Field() projectId!: string;
  @Allow() @Field(() => GrantPrincipalInput) principal!: GrantPrincipalInput;
  @Allow() @Field() role!: string;
  @Allow() @Field(() => String, { nullable: true }) environment?: string;
  @Allow() @Field(() => String, { nullable: true }) branch?: string;
  @Allow() @Field(() => String, { nullable: true }) expiresAt?: string;
}

@ObjectType()
export class ProjectGrantCreatePayload {
  @Field(() => String, { nullable: true }) grantId!: string | null;
  @Field(() => [UserError]) errors!: UserError[];
}

@ObjectType()
export class ProjectGrantRevokePayload {
  @Field() revoked!: boolean;
  @Field(() => [UserError]) errors!: UserError[];
}

const projectIdPipe = new ProjectIdPipe();
const grantIdPipe = new GrantIdPipe();

/** Grants: the same AccessControl rule and commands as GrantsController (grant-listing.ts, grant-commands.ts). */
@Resolver()
export class GrantsResolver {
  constructor(private readonly commands: CommandBus, private readonly access: AccessControl, @Inject(COMPLIANCE_QUERIES) private readonly queries: ComplianceQueries) {}

  @Query(() => [ProjectGrant])
  projectGrants(@Args('projectId') projectId: string, @Context() ctx: GqlContext): Promise<ProjectGrant[]> {
    const p = principalOf(ctx);
    const l = loadersOf(ctx, this.access, this.queries, p);
    return listProjectGrants(l.access, p, projectIdPipe.transform(projectId), l.ctx);
  }

  @Mutation(() => ProjectGrantCreatePayload)
  async projectGrantCreate(@Args('input') input: ProjectGrantCreateInput, @Context() ctx: GqlContext): Promise<ProjectGrantCreatePayload> {
    const p = principalOf(ctx);
    try {
      const { projectId, ...rest } = input;
      const body = await validated(CreateGrantDto, rest);
      const r = (await this.commands.execute(new GrantRoleCommand(projectIdPipe.transform(projectId), body, p, commandContext(ctx.req, p)))) as { grantId: string };
      return { grantId: r.grantId, errors: [] };
    } catch (e) {
      return { grantId: null, errors: userErrors(e) };
    }
  }

  @Mutation(() => ProjectGrantRevokePayload)
  async projectGrantRevoke(@Args('projectId') projectId: string, @Args('grantId') grantId: string, @Context() ctx: GqlContext): Promise<ProjectGrantRevokePayload> {
    const p = principalOf(ctx);
    try {
      await this.commands.execute(new RevokeRoleCommand(projectIdPipe.transform(projectId), grantIdPipe.transform(grantId), p, commandContext(ctx.req, p)));
      return { revoked: true, errors: [] };
    } catch (e) {
      return { revoked: false, errors: userErrors(e) };
    }
  }
}
