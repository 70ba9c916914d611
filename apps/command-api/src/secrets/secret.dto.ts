import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsString, Matches, Max, Min, MinLength, ValidateIf } from 'class-validator';
import {
  FREE_TEXT_PATTERN,
  GLOB_PATTERN,
  MAX_DESCRIPTION_LENGTH,
  MAX_PURPOSE_LENGTH,
  MAX_ROTATION_INTERVAL_DAYS,
  MAX_VALUE_BYTES,
  MIN_ROTATION_INTERVAL_DAYS,
  ROTATION_STATUSES,
  RotationStatus,
  SECRET_NAME_PATTERN,
} from '@app/domain';
import { IsWellFormedText, MaxCodePoints, MaxUtf8Bytes, OptionalNotNull } from '../http/validation';

const GLOB_MESSAGE = (f: string) => `${f} must be a glob of 1-255 characters from A-Z a-z 0-9 . _ - / * ? with at most 8 wildcards (* and ?)`;
const present = (_o: object, v: unknown) => v !== undefined && v !== null;
const INTERVAL_MESSAGE = `rotationIntervalDays must be a whole number of days from ${MIN_ROTATION_INTERVAL_DAYS} to ${MAX_ROTATION_INTERVAL_DAYS}`;
const INTERVAL_DOC = {
  type: 'integer',
  minimum: MIN_ROTATION_INTERVAL_DAYS,
  maximum: MAX_ROTATION_INTERVAL_DAYS,
  example: 90,
} as const;

export class CreateSecretDto {
  @ApiProperty({ pattern: SECRET_NAME_PATTERN.source, example: 'DEPLOY_TOKEN' })
  @IsString()
  @Matches(SECRET_NAME_PATTERN, { message: `name must match ${SECRET_NAME_PATTERN.source}` })
  name!: string;

  @ApiProperty({ description: 'The secret value: up to 64 KiB of UTF-8. Stored in the value store only; never returned by metadata endpoints.', writeOnly: true })
  @IsString()
  @MinLength(1, { message: 'value must not be empty' })
  @IsWellFormedText()
  @MaxUtf8Bytes(MAX_VALUE_BYTES)
  value!: string;

  @ApiPropertyOptional({ maxLength: MAX_DESCRIPTION_LENGTH })
  @OptionalNotNull()
  @IsString()
  @IsWellFormedText()
  @MaxCodePoints(MAX_DESCRIPTION_LENGTH)
  @Matches(FREE_TEXT_PATTERN, { message: 'description must not contain control characters' })
  description?: string;

  @ApiPropertyOptional({ description: 'Environment glob; CI jobs of other environments cannot read it.', example: 'production' })
  @OptionalNotNull()
  @IsString()
  @Matches(GLOB_PATTERN, { message: GLOB_MESSAGE('environment') })
  environment?: string;

  @ApiPropertyOptional({ description: 'Branch/ref glob.', example: 'main' })
  @OptionalNotNull()
  @IsString()
  @Matches(GLOB_PATTERN, { message: GLOB_MESSAGE('branch') })
  branch?: string;

  @ApiPropertyOptional({ description: 'Only CI jobs on protected refs may read it.', default: false })
  @OptionalNotNull()
  @IsBoolean()
  protectedOnly?: boolean;

  @ApiPropertyOptional({ ...INTERVAL_DOC, description: 'Days each value version may live before its rotation is overdue (absent: no rotation interval).' })
  @OptionalNotNull()
  @IsInt({ message: INTERVAL_MESSAGE })
  @Min(MIN_ROTATION_INTERVAL_DAYS, { message: INTERVAL_MESSAGE })
  @Max(MAX_ROTATION_INTERVAL_DAYS, { message: INTERVAL_MESSAGE })
  rotationIntervalDays?: number;
}

export class UpdateSecretValueDto {
  @ApiProperty({ writeOnly: true })
  @IsString()
  @MinLength(1, { message: 'value must not be empty' })
  @IsWellFormedText()
  @MaxUtf8Bytes(MAX_VALUE_BYTES)
  value!: string;
}

/** null clears a field; an absent field is left as it is. */
export class PatchSecretDto {
  @ApiPropertyOptional({ nullable: true, maxLength: MAX_DESCRIPTION_LENGTH })
  @ValidateIf(present)
  @IsString()
  @IsWellFormedText()
  @MaxCodePoints(MAX_DESCRIPTION_LENGTH)
  @Matches(FREE_TEXT_PATTERN, { message: 'description must not contain control characters' })
  description?: string | null;

  @ApiPropertyOptional({ nullable: true })
  @ValidateIf(present)
  @IsString()
  @Matches(GLOB_PATTERN, { message: GLOB_MESSAGE('environment') })
  environment?: string | null;

  @ApiPropertyOptional({ nullable: true })
  @ValidateIf(present)
  @IsString()
  @Matches(GLOB_PATTERN, { message: GLOB_MESSAGE('branch') })
  branch?: string | null;

  @ApiPropertyOptional({ description: 'Not nullable: true or false.' })
  @OptionalNotNull()
  @IsBoolean()
  protectedOnly?: boolean;

  @ApiPropertyOptional({ ...INTERVAL_DOC, nullable: true, description: 'Days each value version may live; null clears the interval. The current version keeps its write time (lastRotatedAt).' })
  @ValidateIf(present)
  @IsInt({ message: INTERVAL_MESSAGE })
  @Min(MIN_ROTATION_INTERVAL_DAYS, { message: INTERVAL_MESSAGE })
  @Max(MAX_ROTATION_INTERVAL_DAYS, { message: INTERVAL_MESSAGE })
  rotationIntervalDays?: number | null;
}

export class AccessSecretDto {
  // Only the type is checked here: length, control characters and well-formed Unicode are checked by
  // the access decision (decideAccess), so a probe with a bad purpose is still recorded as a denial.
  @ApiPropertyOptional({ maxLength: MAX_PURPOSE_LENGTH, description: 'Why the value is needed; recorded in the audit trail (at most 512 characters, no control characters, well-formed Unicode).' })
  @OptionalNotNull()
  @IsString()
  purpose?: string;
}

export class SecretScopeView {
  @ApiProperty({ nullable: true, type: String }) environment!: string | null;
  @ApiProperty({ nullable: true, type: String }) branch!: string | null;
  @ApiProperty() protectedOnly!: boolean;
}

/** A secret's rotation at the time of the request (the GraphQL `rotation` field uses this shape too). */
export class SecretRotationView {
  @ApiProperty({ ...INTERVAL_DOC }) intervalDays!: number;
  @ApiProperty({ format: 'date-time', description: 'When the current value version was written.' }) lastRotatedAt!: string;
  @ApiProperty({ format: 'date-time', description: 'lastRotatedAt + intervalDays.' }) dueAt!: string;
  @ApiProperty({ enum: ROTATION_STATUSES, description: 'overdue from dueAt on; approaching within 7 days before it; ok before that.' }) status!: RotationStatus;
}

export class OpenBaoLocationView {
  @ApiProperty({ example: 'secret/data/pipeline-secrets/payments/DB_PASSWORD/5a8100927ec02b6d-9f1c0e7d2b3a4c5e', description: 'KV v2 data path of the current value (one path per value version).' }) path!: string;
  @ApiProperty({ example: 1, description: 'KV version to ask for (?version=).' }) version!: number;
  @ApiPropertyOptional({
    example: 'ps-ci-payments-5a8100927ec02b6d',
    description: "JWT role of the secret's scope a CI job logs in to. Absent on a group secret: a job of a project below the group logs in to its own project's role of the secret's scope (docs/openbao.md).",
  })
  role?: string;
}

export class SecretMetadataView {
  @ApiPropertyOptional({ description: "The secret's project (absent on a group secret, which has groupId instead)." }) projectId?: string;
  @ApiPropertyOptional({ description: "The secret's group, full path (only on a group secret)." }) groupId?: string;
  @ApiProperty() name!: string;
  @ApiProperty({ nullable: true, type: String }) description!: string | null;
  @ApiProperty({ nullable: true, type: String }) environment!: string | null;
  @ApiProperty({ nullable: true, type: String }) branch!: string | null;
  @ApiProperty() protectedOnly!: boolean;
  @ApiProperty() version!: number;
  @ApiProperty({ description: 'Stream revision; also the ETag.' }) revision!: number;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
  @ApiProperty({ type: SecretRotationView, nullable: true, description: 'null when the secret has no rotation interval.' }) rotation!: SecretRotationView | null;
  @ApiPropertyOptional({
    type: OpenBaoLocationView,
    description: 'Production profile, one secret (GET .../secrets/{name}, PATCH): where a CI job of its scope reads the current value in OpenBao directly. Never in lists.',
  })
  openbao?: OpenBaoLocationView;
}

export class SecretListView {
  @ApiProperty({ type: [SecretMetadataView] }) items!: SecretMetadataView[];
}

export class SecretCreatedView {
  @ApiProperty() name!: string;
  @ApiProperty({ example: 1 }) version!: number;
  @ApiProperty() revision!: number;
}

export class SecretVersionView {
  @ApiProperty() version!: number;
}

export class SecretSourceView {
  @ApiProperty({ enum: ['project', 'group'] }) type!: 'project' | 'group';
  @ApiProperty({ description: 'The project id, or the group full path.' }) id!: string;
}

export class SecretValueView {
  @ApiProperty() name!: string;
  @ApiProperty() version!: number;
  @ApiProperty() value!: string;
  @ApiProperty({ type: SecretSourceView, description: "Where the value came from: the project's own secret or a group's (a CI job's read resolves down its tree, nearest first)." })
  source!: SecretSourceView;
}
