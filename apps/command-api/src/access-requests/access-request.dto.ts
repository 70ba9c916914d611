import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsString, Matches, Max, Min, MinLength } from 'class-validator';
import { ACCESS_REQUEST_LIMITS, ACCESS_REQUEST_STATUSES, AccessRequestStatus, BREAK_GLASS_OUTCOMES, BreakGlassOutcome, FREE_TEXT_PATTERN, GLOB_PATTERN, Role, ROLES } from '@app/domain';
import { IsWellFormedText, MaxCodePoints, OptionalNotNull } from '../http/validation';

const L = ACCESS_REQUEST_LIMITS;
const GLOB_MESSAGE = (f: string) => `${f} must be a glob of 1-255 characters from A-Z a-z 0-9 . _ - / * ? with at most 8 wildcards (* and ?)`;

/** Free text of 1-`max` code points, well-formed, no control characters (the decider checks it again, blank included). */
function FreeText(field: string, max: number): PropertyDecorator {
  return (target: object, key: string | symbol) => {
    IsString({ message: `${field} must be a string` })(target, key);
    MinLength(1, { message: `${field} must be 1-${max} characters` })(target, key);
    MaxCodePoints(max)(target, key as string);
    IsWellFormedText()(target, key as string);
    Matches(FREE_TEXT_PATTERN, { message: `${field} must not contain control characters` })(target, key);
  };
}

export class CreateAccessRequestDto {
  @ApiProperty({ enum: ROLES })
  @IsIn(ROLES as unknown as string[], { message: `role must be one of ${ROLES.join(', ')}` })
  role!: Role;

  @ApiPropertyOptional({ description: 'Environment glob narrowing the requested grant.' })
  @OptionalNotNull()
  @IsString()
  @Matches(GLOB_PATTERN, { message: GLOB_MESSAGE('environment') })
  environment?: string;

  @ApiPropertyOptional({ description: 'Branch glob narrowing the requested grant.' })
  @OptionalNotNull()
  @IsString()
  @Matches(GLOB_PATTERN, { message: GLOB_MESSAGE('branch') })
  branch?: string;

  @ApiProperty({ minimum: L.minDurationSeconds, maximum: L.maxDurationSeconds, description: 'How long the grant lasts once approved (it starts at approval).' })
  @IsInt({ message: `durationSeconds must be an integer from ${L.minDurationSeconds} to ${L.maxDurationSeconds}` })
  @Min(L.minDurationSeconds, { message: `durationSeconds must be an integer from ${L.minDurationSeconds} to ${L.maxDurationSeconds}` })
  @Max(L.maxDurationSeconds, { message: `durationSeconds must be an integer from ${L.minDurationSeconds} to ${L.maxDurationSeconds}` })
  durationSeconds!: number;

  @ApiProperty({ minLength: 1, maxLength: L.maxReasonLength, description: 'Why the access is needed; recorded in the audit trail.' })
  @FreeText('reason', L.maxReasonLength)
  reason!: string;
}

export class ApproveAccessRequestDto {
  @ApiPropertyOptional({ maxLength: L.maxCommentLength })
  @OptionalNotNull()
  @FreeText('comment', L.maxCommentLength)
  comment?: string;
}

export class DenyAccessRequestDto {
  @ApiProperty({ minLength: 1, maxLength: L.maxCommentLength })
  @FreeText('comment', L.maxCommentLength)
  comment!: string;
}

export class BreakGlassDto {
  @ApiProperty({ minLength: 1, maxLength: L.maxReasonLength })
  @FreeText('reason', L.maxReasonLength)
  reason!: string;

  @ApiProperty({ minimum: L.minBreakGlassSeconds, maximum: L.maxBreakGlassSeconds })
  @IsInt({ message: `durationSeconds must be an integer from ${L.minBreakGlassSeconds} to ${L.maxBreakGlassSeconds}` })
  @Min(L.minBreakGlassSeconds, { message: `durationSeconds must be an integer from ${L.minBreakGlassSeconds} to ${L.maxBreakGlassSeconds}` })
  @Max(L.maxBreakGlassSeconds, { message: `durationSeconds must be an integer from ${L.minBreakGlassSeconds} to ${L.maxBreakGlassSeconds}` })
  durationSeconds!: number;
}

export class ReviewBreakGlassDto {
  @ApiProperty({ enum: BREAK_GLASS_OUTCOMES })
  @IsIn(BREAK_GLASS_OUTCOMES as unknown as string[], { message: 'outcome must be justified or unjustified' })
  outcome!: BreakGlassOutcome;

  @ApiProperty({ minLength: 1, maxLength: L.maxCommentLength })
  @FreeText('comment', L.maxCommentLength)
  comment!: string;
}

// ---- views ----
export class AccessRequestCreatedView {
  @ApiProperty() requestId!: string;
  @ApiProperty({ enum: ['pending'] }) status!: 'pending';
  @ApiProperty({ format: 'date-time', description: 'When the request expires unreviewed.' }) expiresAt!: string;
}

export class TimeBoxedGrantView {
  @ApiProperty() grantId!: string;
  @ApiProperty({ format: 'date-time' }) expiresAt!: string;
}

class UserRefView {
  @ApiProperty({ enum: ['user'] }) type!: 'user';
  @ApiProperty() id!: string;
}

export class AccessRequestView {
  @ApiProperty() requestId!: string;
  @ApiProperty({ type: UserRefView }) requester!: UserRefView;
  @ApiProperty({ enum: ROLES }) role!: Role;
  @ApiProperty({ nullable: true, type: String }) environment!: string | null;
  @ApiProperty({ nullable: true, type: String }) branch!: string | null;
  @ApiProperty() durationSeconds!: number;
  @ApiProperty() reason!: string;
  @ApiProperty({ format: 'date-time' }) requestedAt!: string;
  @ApiProperty({ format: 'date-time' }) expiresAt!: string;
  @ApiProperty({ enum: ACCESS_REQUEST_STATUSES }) status!: AccessRequestStatus;
  @ApiProperty({ nullable: true, type: String }) decidedBy!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) decidedAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) comment!: string | null;
  @ApiProperty({ nullable: true, type: String }) grantId!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) grantExpiresAt!: string | null;
}

export class AccessRequestListView {
  @ApiProperty({ type: [AccessRequestView] }) items!: AccessRequestView[];
  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next page; null on the last.' }) nextCursor!: string | null;
}

class BreakGlassReviewView {
  @ApiProperty({ enum: BREAK_GLASS_OUTCOMES }) outcome!: BreakGlassOutcome;
  @ApiProperty() comment!: string;
  @ApiProperty() reviewedBy!: string;
  @ApiProperty({ format: 'date-time' }) reviewedAt!: string;
}

export class BreakGlassView {
  @ApiProperty() grantId!: string;
  @ApiProperty({ type: UserRefView }) principal!: UserRefView;
  @ApiProperty() reason!: string;
  @ApiProperty() durationSeconds!: number;
  @ApiProperty({ format: 'date-time' }) invokedAt!: string;
  @ApiProperty({ format: 'date-time' }) expiresAt!: string;
  @ApiProperty({ type: BreakGlassReviewView, nullable: true }) review!: BreakGlassReviewView | null;
}

export class BreakGlassListView {
  @ApiProperty({ type: [BreakGlassView] }) items!: BreakGlassView[];
}

export class BreakGlassReviewedView {
  @ApiProperty() grantId!: string;
  @ApiProperty({ enum: BREAK_GLASS_OUTCOMES }) outcome!: BreakGlassOutcome;
}

export class AccessRequestDecidedView {
  @ApiProperty() requestId!: string;
  @ApiProperty({ enum: ACCESS_REQUEST_STATUSES }) status!: AccessRequestStatus;
}
