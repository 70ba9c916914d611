import { ArgsType, Field, InputType, Int, ObjectType } from '@nestjs/graphql';
import { Allow } from 'class-validator';

// Inputs carry @Allow() for the app-wide ValidationPipe (whitelist); resolvers validate them with the REST DTOs' rules.

/** A refusal the client caused: the same problem `type` URNs as REST (api-problems.ts). */
@ObjectType()
export class UserError {
  @Field() type!: string;
  @Field(() => String, { nullable: true }) field!: string | null;
  @Field() message!: string;
}

@ObjectType({ description: "A secret's rotation as of the request (REST metadata rotation)." })
export class SecretRotation {
  @Field(() => Int) intervalDays!: number;
  @Field({ description: 'When the current value version was written.' }) lastRotatedAt!: string;
  @Field({ description: 'lastRotatedAt + intervalDays.' }) dueAt!: string;
  @Field({ description: 'ok, approaching (within 7 days of dueAt) or overdue' }) status!: string;
}

/** What a project's and a group's secret metadata share. Metadata only: no field can hold a value. */
@ObjectType({ isAbstract: true })
export abstract class SecretMetadataFields {
  @Field() name!: string;
  @Field(() => String, { nullable: true }) description!: string | null;
  @Field(() => String, { nullable: true }) environment!: string | null;
  @Field() protectedOnly!: boolean;
  @Field(() => Int) version!: number;
  @Field(() => Int, { description: 'Stream revision; pass as ifRevision.' }) revision!: number;
  @Field() createdAt!: string;
  @Field() updatedAt!: string;
  @Field(() => SecretRotation, { nullable: true, description: 'null when the secret has no rotation interval.' }) rotation!: SecretRotation | null;
}

/** Metadata only: no field of this type can hold a value. */
@ObjectType()
export class ProjectSecret extends SecretMetadataFields {
  @Field() projectId!: string;
  @Field(() => String, { nullable: true }) branch!: string | null;
}

/** A group's secret (API.md "Groups and group secrets"): metadata only, scoped by environment and protectedOnly (no branch). */
@ObjectType()
export class GroupSecret extends SecretMetadataFields {
  @Field({ description: "The secret's group, full path (acme/payments)." }) groupId!: string;
}

@ObjectType()
export class PageInfo {
  @Field() hasNextPage!: boolean;
  @Field(() => String, { nullable: true }) endCursor!: string | null;
}

@ObjectType()
export class ProjectSecretEdge {
  @Field() cursor!: string;
  @Field(() => ProjectSecret) node!: ProjectSecret;
}

@ObjectType()
export class ProjectSecretConnection {
  @Field(() => [ProjectSecretEdge]) edges!: ProjectSecretEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType()
export class GroupSecretEdge {
  @Field() cursor!: string;
  @Field(() => GroupSecret) node!: GroupSecret;
}

@ObjectType()
export class GroupSecretConnection {
  @Field(() => [GroupSecretEdge]) edges!: GroupSecretEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@InputType()
export class ProjectSecretCreateInput {
  @Allow() @Field() projectId!: string;
  @Allow() @Field() name!: string;
  @Allow() @Field({ description: 'Write-only: never returned by any query.' }) value!: string;
  @Allow() @Field(() => String, { nullable: true }) description?: string;
  @Allow() @Field(() => String, { nullable: true }) environment?: string;
  @Allow() @Field(() => String, { nullable: true }) branch?: string;
  @Allow() @Field(() => Boolean, { nullable: true }) protectedOnly?: boolean;
  @Allow() @Field(() => Int, { nullable: true, description: 'Days each value version may live (1-3650); absent: no rotation interval.' }) rotationIntervalDays?: number;
}

@ObjectType()
export class ProjectSecretCreatePayload {
  @Field(() => String, { nullable: true }) name!: string | null;
  @Field(() => Int, { nullable: true }) version!: number | null;
  @Field(() => Int, { nullable: true }) revision!: number | null;
  @Field(() => [UserError]) errors!: UserError[];
}

@InputType({ description: 'As ProjectSecretCreateInput, on a group: no branch (a group secret is scoped by environment and protectedOnly).' })
export class GroupSecretCreateInput {
  @Allow() @Field({ description: 'Full path (acme/payments).' }) groupId!: string;
  @Allow() @Field() name!: string;
  @Allow() @Field({ description: 'Write-only: never returned by any query.' }) value!: string;
  @Allow() @Field(() => String, { nullable: true }) description?: string;
  @Allow() @Field(() => String, { nullable: true }) environment?: string;
  @Allow() @Field(() => Boolean, { nullable: true }) protectedOnly?: boolean;
  @Allow() @Field(() => Int, { nullable: true, description: 'Days each value version may live (1-3650); absent: no rotation interval.' }) rotationIntervalDays?: number;
}

@ObjectType()
export class GroupSecretCreatePayload extends ProjectSecretCreatePayload {}

@ArgsType()
export class SecretAccessArgs {
  @Allow() @Field() projectId!: string;
  @Allow() @Field(() => [String]) names!: string[];
  @Allow() @Field(() => String, { nullable: true }) purpose?: string;
}

@ObjectType({ description: "Where a value came from: the project's own secret or a group's (a CI job's read resolves down its tree, nearest first)." })
export class SecretSource {
  @Field({ description: 'project or group' }) type!: string;
  @Field({ description: 'The project id, or the group full path.' }) id!: string;
}

/** The ONLY type with a field that holds a secret value (schema.unit.spec.ts checks it). */
@ObjectType()
export class SecretValue {
  @Field() name!: string;
  @Field(() => Int) version!: number;
  @Field() value!: string;
  @Field(() => SecretSource) source!: SecretSource;
}

@ObjectType()
export class SecretAccessDenial {
  @Field() name!: string;
  @Field({ description: 'The reason of its SecretAccessDenied event (as REST batch access), or secret-deleted.' }) reason!: string;
}

@ObjectType()
export class SecretAccessPayload {
  @Field(() => [SecretValue]) items!: SecretValue[];
  @Field(() => [SecretAccessDenial]) denied!: SecretAccessDenial[];
  @Field(() => [UserError]) errors!: UserError[];
}

@ObjectType()
export class ProjectSecretDeletePayload {
  @Field() deleted!: boolean;
  @Field(() => [UserError]) errors!: UserError[];
}

@ObjectType()
export class GroupSecretDeletePayload extends ProjectSecretDeletePayload {}

@InputType({ description: 'value (a new version) and/or metadata; null clears description, environment, branch or rotationIntervalDays; an absent field is left as it is.' })
export class ProjectSecretUpdateInput {
  @Allow() @Field() projectId!: string;
  @Allow() @Field() name!: string;
  @Allow() @Field(() => String, { nullable: true, description: 'Write-only: a new value version; never returned by any query.' }) value?: string;
  @Allow() @Field(() => String, { nullable: true }) description?: string | null;
  @Allow() @Field(() => String, { nullable: true }) environment?: string | null;
  @Allow() @Field(() => String, { nullable: true }) branch?: string | null;
  @Allow() @Field(() => Boolean, { nullable: true }) protectedOnly?: boolean;
  @Allow() @Field(() => Int, { nullable: true, description: 'Days each value version may live (1-3650); null clears the interval.' }) rotationIntervalDays?: number | null;
  @Allow() @Field(() => Int, { nullable: true, description: 'Stream revision (REST If-Match); refused as precondition-failed when stale' }) ifRevision?: number;
}

@ObjectType()
export class ProjectSecretUpdatePayload {
  @Field(() => ProjectSecret, { nullable: true, description: 'The metadata after the update' }) secret!: ProjectSecret | null;
  @Field(() => [UserError]) errors!: UserError[];
}

@InputType({ description: 'As ProjectSecretUpdateInput, on a group (no branch): value (a new version) and/or metadata; null clears description, environment or rotationIntervalDays; an absent field is left as it is.' })
export class GroupSecretUpdateInput {
  @Allow() @Field({ description: 'Full path (acme/payments).' }) groupId!: string;
  @Allow() @Field() name!: string;
  @Allow() @Field(() => String, { nullable: true, description: 'Write-only: a new value version; never returned by any query.' }) value?: string;
  @Allow() @Field(() => String, { nullable: true }) description?: string | null;
  @Allow() @Field(() => String, { nullable: true }) environment?: string | null;
  @Allow() @Field(() => Boolean, { nullable: true }) protectedOnly?: boolean;
  @Allow() @Field(() => Int, { nullable: true, description: 'Days each value version may live (1-3650); null clears the interval.' }) rotationIntervalDays?: number | null;
  @Allow() @Field(() => Int, { nullable: true, description: 'Stream revision (REST If-Match); refused as precondition-failed when stale' }) ifRevision?: number;
}

@ObjectType()
export class GroupSecretUpdatePayload {
  @Field(() => GroupSecret, { nullable: true, description: 'The metadata after the update' }) secret!: GroupSecret | null;
  @Field(() => [UserError]) errors!: UserError[];
}
