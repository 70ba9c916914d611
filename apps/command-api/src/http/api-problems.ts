import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';

class FieldErrorView {
  @ApiProperty() field!: string;
  @ApiProperty() message!: string;
}

/** RFC 9457 problem details, as every error is served (application/problem+json). */
export class ProblemView {
  @ApiProperty({ example: 'urn:pipeline-secrets:problem:forbidden' }) type!: string;
  @ApiProperty() title!: string;
  @ApiProperty() status!: number;
  @ApiPropertyOptional() detail?: string;
  @ApiPropertyOptional() instance?: string;
  @ApiPropertyOptional({ description: 'Machine-readable reason, e.g. no-grant, unprotected-ref, last-owner, token expired' }) reason?: string;
  @ApiPropertyOptional({ type: [FieldErrorView], description: 'For 400: each offending field' }) errors?: FieldErrorView[];
}

const problem = (status: number, description: string) =>
  ApiResponse({ status, description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/ProblemView' } } } });

/** The error statuses of API.md, documented once for every command route. */
export const ApiProblems = () =>
  applyDecorators(
    ApiResponse({ status: 400, description: 'invalid body, path or query (names the field)', type: ProblemView }),
    problem(401, 'no token, or a bad one (the reason says why)'),
    problem(403, 'not allowed; the denial is recorded as SecretAccessDenied'),
    problem(404, 'unknown secret or grant (to principals who may see the project)'),
    problem(409, 'already exists, or a concurrent change'),
    problem(412, 'stale If-Match'),
    problem(413, 'body too large'),
    problem(503, 'a dependency (event store, value store) is unavailable'),
  );
