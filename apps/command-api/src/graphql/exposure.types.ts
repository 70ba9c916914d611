import { Field, InputType, Int, ObjectType } from '@nestjs/graphql';
import { Allow } from 'class-validator';

// Exposure reports over GraphQL (issue 22): the REST report's shape, typed. Metadata only.

@InputType({ description: 'One of: {type: user, id} | {type: group, id} (a group claim) | {type: ci-job, projectId, ref?, pipelineId?} | {type: secret, projectId | groupId, name, version?}' })
export class ExposureSubjectInput {
  @Allow() @Field() type!: string;
  @Allow() @Field(() => String, { nullable: true }) id?: string | null;
  @Allow() @Field(() => String, { nullable: true }) projectId?: string | null;
  @Allow() @Field(() => String, { nullable: true }) groupId?: string | null;
  @Allow() @Field(() => String, { nullable: true }) ref?: string | null;
  @Allow() @Field(() => String, { nullable: true }) pipelineId?: string | null;
  @Allow() @Field(() => String, { nullable: true }) name?: string | null;
  @Allow() @Field(() => Int, { nullable: true }) version?: number | null;
}

@ObjectType()
export class ExposurePlace {
  @Field({ description: 'project or group' }) type!: string;
  @Field() id!: string;
}

@ObjectType()
export class ExposureInterval {
  @Field() from!: string;
  @Field() to!: string;
}

@ObjectType()
export class ExposurePrincipal {
  @Field() type!: string;
  @Field() id!: string;
}

@ObjectType({ description: 'A grant (grantId, role, principal, inheritedFrom, accessRequestId, breakGlass) or a CI rule (rule: ci-job-scope, projectId).' })
export class ExposureVia {
  @Field(() => String, { nullable: true }) grantId?: string | null;
  @Field(() => String, { nullable: true }) role?: string | null;
  @Field(() => ExposurePrincipal, { nullable: true }) principal?: ExposurePrincipal | null;
  @Field(() => String, { nullable: true }) grantedBy?: string | null;
  @Field(() => ExposurePlace, { nullable: true }) inheritedFrom?: ExposurePlace | null;
  @Field(() => String, { nullable: true }) accessRequestId?: string | null;
  @Field(() => Boolean, { nullable: true }) breakGlass?: boolean | null;
  @Field(() => String, { nullable: true }) rule?: string | null;
  @Field(() => String, { nullable: true }) projectId?: string | null;
}

@ObjectType()
export class ExposureViaIntervals {
  @Field(() => ExposureVia) via!: ExposureVia;
  @Field(() => [ExposureInterval]) intervals!: ExposureInterval[];
}

@ObjectType()
export class ExposureCould {
  @Field(() => ExposurePlace) place!: ExposurePlace;
  @Field() name!: string;
  @Field(() => Int) version!: number;
  @Field(() => [ExposureInterval]) intervals!: ExposureInterval[];
  @Field(() => [ExposureViaIntervals]) via!: ExposureViaIntervals[];
}

@ObjectType()
export class ExposureDid {
  @Field(() => ExposurePlace) place!: ExposurePlace;
  @Field() name!: string;
  @Field(() => Int) version!: number;
  @Field() at!: string;
  @Field() channel!: string;
  @Field(() => ExposurePrincipal) principal!: ExposurePrincipal;
  @Field(() => String, { nullable: true }) projectId?: string | null;
  @Field(() => String, { nullable: true }) pipelineId?: string | null;
  @Field(() => String, { nullable: true }) jobId?: string | null;
  @Field(() => String, { nullable: true }) ref?: string | null;
  @Field() eventId!: string;
}

@ObjectType()
export class ExposureRotate {
  @Field(() => ExposurePlace) place!: ExposurePlace;
  @Field() name!: string;
  @Field(() => Int) version!: number;
  @Field() read!: boolean;
}

@ObjectType()
export class ExposurePipeline {
  @Field() projectId!: string;
  @Field() pipelineId!: string;
}

@ObjectType({ description: 'What a subject could read in [from, to), what it read, what to rotate; places without your read-audit only counted (notCovered). Recorded (ExposureReportGenerated) like the REST report.' })
export class ExposureReportView {
  @Field() reportId!: string;
  @Field() from!: string;
  @Field() to!: string;
  @Field(() => [ExposureCould]) could!: ExposureCould[];
  @Field(() => [ExposureDid]) did!: ExposureDid[];
  @Field(() => Int) didTotal!: number;
  @Field() didTruncated!: boolean;
  @Field(() => [ExposureRotate]) rotate!: ExposureRotate[];
  @Field(() => Int) notCovered!: number;
  @Field(() => [ExposurePipeline], { nullable: true, description: 'Secret subjects: the pipelines whose evidence lists the secret.' }) pipelines?: ExposurePipeline[] | null;
}
