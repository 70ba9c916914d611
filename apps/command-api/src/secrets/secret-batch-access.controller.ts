import { Body, Controller, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiProduces, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsString, Matches } from 'class-validator';
import type { Response } from 'express';
import { MAX_PURPOSE_LENGTH, Principal, PROJECT_ID_PATTERN, SECRET_NAME_PATTERN } from '@app/domain';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { ProjectIdPipe } from '../http/params';
import { AuthenticatedRequest, commandContext } from '../http/request-context';
import { OptionalNotNull } from '../http/validation';
import { SecretValueView } from './secret.dto';
import { SecretAccess } from './secret-access';

/** At most this many names in one batch access (API.md). */
export const MAX_BATCH_NAMES = 100;

export class AccessSecretsDto {
  @ApiProperty({ type: [String], minItems: 1, maxItems: MAX_BATCH_NAMES, uniqueItems: true, example: ['DB_PASSWORD', 'DEPLOY_TOKEN'] })
  @IsArray()
  @ArrayMinSize(1, { message: 'names must hold at least one secret name' })
  @ArrayMaxSize(MAX_BATCH_NAMES, { message: `names must hold at most ${MAX_BATCH_NAMES} secret names` })
  @ArrayUnique({ message: 'names must not repeat a name' })
  @IsString({ each: true })
  @Matches(SECRET_NAME_PATTERN, { each: true, message: `each of names must match ${SECRET_NAME_PATTERN.source}` })
  names!: string[];

  // Only the type here: the access decision checks the rest, so a probe with a bad purpose is still recorded (as for one secret).
  @ApiPropertyOptional({ maxLength: MAX_PURPOSE_LENGTH, description: 'Why the values are needed; recorded with every decision.' })
  @OptionalNotNull()
  @IsString()
  purpose?: string;
}

export class SecretDeniedView {
  @ApiProperty() name!: string;
  @ApiProperty({ description: 'The denial reason of its SecretAccessDenied event; or, after its SecretAccessed, secret-deleted (deleted while being read) or openbao-denied (OpenBao refused the job itself), each recorded as SecretValueNotDelivered.' }) reason!: string;
}

export class SecretBatchView {
  @ApiProperty({ type: [SecretValueView] }) items!: SecretValueView[];
  @ApiProperty({ type: [SecretDeniedView] }) denied!: SecretDeniedView[];
}

@ApiTags('secrets')
@ApiBearerAuth()
@ApiProduces('application/json', 'application/problem+json')
@ApiProblems()
@ApiParam({ name: 'projectId', schema: { type: 'string', pattern: PROJECT_ID_PATTERN.source } })
@Controller('v1/projects/:projectId/secrets/access')
export class SecretBatchAccessController {
  constructor(private readonly reader: SecretAccess) {}

  @Post()
  @HttpCode(200)
  @ApiOkResponse({
    type: SecretBatchView,
    description: 'Each name decided on its own and recorded as its own event; the values are returned only after every allowed one is durably recorded.',
  })
  async accessMany(
    @Param('projectId', ProjectIdPipe) projectId: string,
    @Body() body: AccessSecretsDto,
    @CurrentPrincipal() p: Principal,
    @Req() req: AuthenticatedRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<SecretBatchView> {
    res.setHeader('Cache-Control', 'no-store');
    return this.reader.read({ projectId, names: body.names, purpose: body.purpose ?? null, principal: p, ctx: commandContext(req, p), ciJobToken: req.ciJobToken }, false);
  }
}
