import { applyDecorators, Controller, Get, Inject, Param, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { comparePositions, EventStore, grantPlaces, placeKey, placeOf, Principal, PROJECT_ID_PATTERN, SECRET_NAME_PATTERN, secretHistory, SecretHistoryItem, StreamName } from '@app/domain';
import { EVENT_STORE } from '@app/infra/nest/tokens';
import { decodeCursor, encodeCursor, HistoryCursor } from '@app/infra/read-models/compliance';
import { AccessControl } from '../application/access-control';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { ProjectIdPipe, rejectUnknownParams, SecretNamePipe } from '../http/params';
import { FieldError, problems } from '../http/problem';
import { AuthenticatedRequest, commandContext } from '../http/request-context';

type HistoryKind = 'all' | 'metadata' | 'readers';
const SCOPE_FIELDS = ['environment', 'branch', 'protectedOnly'];

/** `readers`: what changes who could read it: grants acting on it, and its creation, scope changes and deletion. */
function ofKind(i: SecretHistoryItem, kind: HistoryKind): boolean {
  if (kind === 'all') return true;
  if (kind === 'metadata') return i.kind === 'metadata';
  if (i.kind === 'grant' || i.type === 'SecretCreated' || i.type === 'SecretDeleted') return true;
  return i.type === 'SecretMetadataChanged' && SCOPE_FIELDS.some((f) => f in i.changes);
}

/**
 * GET …/secrets/{name}/history of a place (a project id or a group key; shared by the project's and
 * the group's endpoint): 400s first, read-audit on the place, then the secret's stream and the
 * place's grant stream. For a group secret the grants of every group above it too (group/tree.ts
 * grantPlaces: fixed, a group never moves), tagged `grant.inheritedFrom`.
 */
export async function answerSecretHistory(
  deps: { access: AccessControl; store: EventStore },
  key: string,
  name: string,
  query: Record<string, unknown>,
  p: Principal,
  req: AuthenticatedRequest,
): Promise<{ items: Omit<SecretHistoryItem, 'position'>[]; nextCursor: string | null }> {
  const { kind, limit, cursor } = parse(query);
  await deps.access.require(p, 'read-audit', { projectId: key }, commandContext(req, p));
  const secretEvents = await deps.store.readStream(StreamName.secret(key, name));
  if (secretEvents.length === 0) throw problems.notFound(`secret ${name} not found`);
  const projectEvents = kind === 'metadata' ? [] : await deps.store.readStream(StreamName.project(key));
  const place = placeOf(key);
  const above = kind === 'metadata' || place?.type !== 'group' ? [] : grantPlaces(place, null).slice(1);
  const inherited = await Promise.all(above.map(async (g) => ({ groupId: g.id, events: await deps.store.readStream(StreamName.project(placeKey(g))) })));
  const all = secretHistory(key, name, secretEvents, projectEvents, inherited)
    .filter((i) => ofKind(i, kind))
    .reverse()
    .filter((i) => !cursor || comparePositions(i.position, cursor) < 0);
  const page = all.slice(0, limit);
  const nextCursor = all.length > limit ? encodeCursor(page[page.length - 1].position) : null;
  return { items: page.map(({ position: _position, ...item }) => item), nextCursor };
}

function parse(query: Record<string, unknown>): { kind: HistoryKind; limit: number; cursor?: HistoryCursor } {
  const errors: FieldError[] = [];
  rejectUnknownParams(query, ['kind', 'limit', 'cursor'], errors);
  let kind: HistoryKind = 'all';
  if (query.kind !== undefined) {
    if (query.kind === 'all' || query.kind === 'metadata' || query.kind === 'readers') kind = query.kind;
    else errors.push({ field: 'kind', message: 'kind must be given once: all, metadata or readers' });
  }
  let limit = 100;
  if (query.limit !== undefined) {
    if (typeof query.limit !== 'string' || !/^\d{1,4}$/.test(query.limit) || Number(query.limit) < 1 || Number(query.limit) > 1000) errors.push({ field: 'limit', message: 'limit must be an integer from 1 to 1000' });
    else limit = Number(query.limit);
  }
  let cursor: HistoryCursor | undefined;
  if (query.cursor !== undefined) {
    cursor = typeof query.cursor === 'string' ? decodeCursor(query.cursor) : undefined;
    if (!cursor) errors.push({ field: 'cursor', message: 'cursor must be a nextCursor returned by this endpoint' });
  }
  if (errors.length > 0) throw problems.badRequest('invalid query', errors);
  return { kind, limit, cursor };
}

/** The parameters and answer of GET …/secrets/{name}/history, for a project's and a group's. */
export function SecretHistoryDocs() {
  return applyDecorators(
    ApiParam({ name: 'name', schema: { type: 'string', pattern: SECRET_NAME_PATTERN.source } }),
    ApiQuery({ name: 'kind', required: false, enum: ['all', 'metadata', 'readers'], description: '`metadata`: the secret\'s own events; `readers`: grants that could read it and its creation, scope changes and deletion; default all' }),
    ApiQuery({ name: 'cursor', required: false, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } }),
    ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } }),
    ApiOkResponse({
      description:
        'Newest first, `{items, nextCursor}`. Each item `{at, type, kind, actor: {type, id}, changes: {field: {from, to}}, version?, grant?: {grantId, principal, role, environment, branch, expiresAt, accessRequestId?, breakGlass?, inheritedFrom?}}`. Never a value or a value reference.',
    }),
  );
}

/**
 * A secret's metadata history and the timeline of the grants that could read it (issue 21: the
 * console's Secrets and Who-could-read-it screens ask it; they compute nothing themselves). Built
 * from the secret's stream and the project's grant stream by the domain's secretHistory. Values
 * and value references never appear. A reviewer's query: read-audit, as `…/readers`.
 */
@ApiTags('compliance')
@ApiBearerAuth()
@ApiProblems()
@ApiParam({ name: 'projectId', schema: { type: 'string', pattern: PROJECT_ID_PATTERN.source } })
@Controller('v1/projects/:projectId')
export class SecretHistoryController {
  constructor(private readonly access: AccessControl, @Inject(EVENT_STORE) private readonly store: EventStore) {}

  @Get('secrets/:name/history')
  @SecretHistoryDocs()
  history(
    @Param('projectId', ProjectIdPipe) projectId: string,
    @Param('name', SecretNamePipe) name: string,
    @Query() query: Record<string, unknown>,
    @CurrentPrincipal() p: Principal,
    @Req() req: AuthenticatedRequest,
  ) {
    return answerSecretHistory({ access: this.access, store: this.store }, projectId, name, query, p, req);
  }
}
