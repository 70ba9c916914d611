import { CanActivate, ExecutionContext, Inject, Injectable, Optional, createParamDecorator } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Principal } from '@app/domain';
import { PUBLIC_ROUTE } from '@app/infra/nest/public';
import { TOKEN_VERIFIER } from '@app/infra/nest/tokens';
import { TokenVerifier } from '@app/infra/auth/token-verifier';
import { AppConfig } from '@app/infra/config/config';
import { CONFIG } from '@app/infra/nest/tokens';
import { ConsoleSessions, cookieOf, RECENT_SIGN_IN_MS, SESSION_COOKIE } from '../console/console-sessions';
import { crossSiteProblem, csrfRefused } from '../console/console-security';
import { PROBLEM_BASE, ProblemException, problems } from './problem';
import { AuthenticatedRequest } from './request-context';


@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    @Inject(TOKEN_VERIFIER) private readonly verifier: TokenVerifier,
    private readonly reflector: Reflector,
    @Optional() private readonly sessions?: ConsoleSessions,
    @Optional() @Inject(CONFIG) private readonly config?: AppConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()])) return true;
    // A GraphQL resolver's request is in its context argument (graphql/graphql-api.module.ts).
    const req = context.getType<string>() === 'graphql' ? (context.getArgByIndex(2) as { req: AuthenticatedRequest }).req : context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = req.header('authorization');
    if (!header && this.sessions && cookieOf(req, SESSION_COOKIE) !== undefined) return this.consoleSession(req, context);
    if (!header) throw problems.unauthorized('missing bearer token');
    const m = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(header);
    if (!m) throw problems.unauthorized('malformed Authorization header');
    // exp is a required claim, checked by the verifier: long-lived responses (the audit stream) end with it.
    const { principal, exp } = await this.verifier.verifyWithExpiry(m[1]);
    req.principal = principal;
    req.tokenExpiresAt = exp * 1000;
    // Kept only for a CI job, whose own token logs in to OpenBao for brokered reads; never logged.
    if (req.principal.kind === 'ci-job') Object.defineProperty(req, 'ciJobToken', { value: m[1], enumerable: false });
    return true;
  }

  /** The web console's session cookie (apps/command-api/src/console), beside bearer tokens. */
  private async consoleSession(req: AuthenticatedRequest, context: ExecutionContext): Promise<boolean> {
    const session = await this.sessions!.touch(cookieOf(req, SESSION_COOKIE)!);
    if (!session) throw problems.unauthorized('console session ended: sign in again');
    const why = crossSiteProblem(req, this.config?.console.publicUrl);
    if (why !== null) throw csrfRefused(why);
    if (needsRecentSignIn(req, context) && Date.now() - session.signedInAt >= RECENT_SIGN_IN_MS) {
      throw new ProblemException({
        type: `${PROBLEM_BASE}recent-sign-in-required`,
        title: 'Sign in again',
        status: 403,
        detail: 'approving, denying and reviewing break-glass need a sign-in younger than 10 minutes',
        reason: 'recent-sign-in-required',
      });
    }
    req.principal = session.principal;
    req.tokenExpiresAt = session.expiresAt;
    return true;
  }
}

const RECENT_SIGN_IN_PATHS = [/^\/v1\/projects\/[^/]+\/access-requests\/[^/]+\/(approve|deny)\/?$/, /^\/v1\/projects\/[^/]+\/break-glass\/[^/]+\/review\/?$/];
const RECENT_SIGN_IN_MUTATIONS = new Set(['accessRequestApprove', 'accessRequestDeny', 'breakGlassReview']);

/** Approve, deny and break-glass review, over REST or GraphQL. */
function needsRecentSignIn(req: AuthenticatedRequest, context: ExecutionContext): boolean {
  if (context.getType<string>() === 'graphql') {
    const info = context.getArgByIndex(3) as { fieldName?: string; parentType?: { name?: string } } | undefined;
    return info?.parentType?.name === 'Mutation' && RECENT_SIGN_IN_MUTATIONS.has(info.fieldName ?? '');
  }
  return req.method === 'POST' && RECENT_SIGN_IN_PATHS.some((p) => p.test(req.path));
}

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const p = ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (!p) throw problems.unauthorized('missing bearer token');
  return p;
});
