import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsIn, IsObject, IsString, Matches, ValidateNested } from 'class-validator';
import { GLOB_PATTERN, PRINCIPAL_ID_PATTERN, Role, ROLES } from '@app/domain';
import { parseRfc3339 } from '@app/domain/invariants';
import { IsRfc3339Instant, OptionalNotNull } from '../http/validation';

export class GrantPrincipalDto {
  @ApiProperty({ enum: ['user', 'group'] })
  @IsIn(['user', 'group'], { message: 'principal.type must be user or group' })
  type!: 'user' | 'group';

  @ApiProperty({ pattern: PRINCIPAL_ID_PATTERN.source })
  @IsString()
  @Matches(PRINCIPAL_ID_PATTERN, { message: `id must match ${PRINCIPAL_ID_PATTERN.source}` })
  id!: string;
}

export class CreateGrantDto {
  @ApiProperty({ type: GrantPrincipalDto })
  @IsDefined()
  @IsObject({ message: 'principal must be an object {type, id}' })
  @ValidateNested()
  @Type(() => GrantPrincipalDto)
  principal!: GrantPrincipalDto;

  @ApiProperty({ enum: ROLES })
  @IsIn(ROLES as unknown as string[], { message: `role must be one of ${ROLES.join(', ')}` })
  role!: Role;

  @ApiPropertyOptional({ description: 'Environment glob narrowing the grant.' })
  @OptionalNotNull()
  @IsString()
  @Matches(GLOB_PATTERN, { message: 'environment must be a glob of 1-255 characters from A-Z a-z 0-9 . _ - / * ? with at most 8 wildcards (* and ?)' })
  environment?: string;

  @ApiPropertyOptional({ description: 'Branch glob narrowing the grant.' })
  @OptionalNotNull()
  @IsString()
  @Matches(GLOB_PATTERN, { message: 'branch must be a glob of 1-255 characters from A-Z a-z 0-9 . _ - / * ? with at most 8 wildcards (* and ?)' })
  branch?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'RFC 3339 instant after which the grant no longer applies.' })
  @OptionalNotNull()
  @IsString()
  @IsRfc3339Instant()
  expiresAt?: string;
}

export class GrantCreatedView {
  @ApiProperty() grantId!: string;
}

export class GrantView {
  @ApiProperty() grantId!: string;
  @ApiProperty({ type: GrantPrincipalDto }) principal!: GrantPrincipalDto;
  @ApiProperty({ enum: ROLES }) role!: Role;
  @ApiProperty({ nullable: true, type: String }) environment!: string | null;
  @ApiProperty({ nullable: true, type: String }) branch!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) expiresAt!: string | null;
  @ApiProperty() grantedBy!: string;
  @ApiProperty({ format: 'date-time' }) grantedAt!: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) revokedAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) revokedBy!: string | null;
  @ApiProperty({ enum: ['active', 'expired', 'revoked'] }) status!: 'active' | 'expired' | 'revoked';
}

export class GrantListView {
  @ApiProperty({ type: [GrantView] }) items!: GrantView[];
}

/** An RFC 3339 instant whose every field is in range (see parseRfc3339). */
export function isValidInstant(s: string): boolean {
  return parseRfc3339(s) !== null;
}
