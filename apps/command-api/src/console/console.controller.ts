import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { PRINCIPAL_ID_PATTERN, UserPrincipal } from '@app/domain';
import { AppConfig } from '@app/infra/config/config';
import { JsonLogger, describeError } from '@app/infra/logging/logger';
import { Public } from '@app/infra/nest/public';
import { CONFIG, LOGGER } from '@app/infra/nest/tokens';
import { FieldError, problems } from '../http/problem';
import { crossSiteProblem, csrfRefused, expectedOrigin } from './console-security';
import { ConsoleOidc, PendingSignIn } from './console-oidc';
import { clearCookie, ConsoleSessions, cookieOf, RECENT_SIGN_IN_MS, SESSION_COOKIE } from './console-sessions';

const PENDING_COOKIE = '__Host-ps-console-oidc';
const MAX_GROUPS = 500;

/** Where `npm run build` put the console: dist/console, seen from the sources or from dist/. */
function consoleRoot(): string | null {
  const up = resolve(__dirname, '../../../..');
  for (const dir of [join(up, 'dist', 'console'), join(up, 'console')]) if (existsSync(join(dir, 'index.html'))) return dir;
  return null;
}

/** A user principal from claims a sign-in gave (dev form or ID token), checked as a user JWT's are. */
export function principalFrom(sub: unknown, groups: unknown): UserPrincipal | FieldError[] {
  const errors: FieldError[] = [];
  if (typeof sub !== 'string' || !PRINCIPAL_ID_PATTERN.test(sub)) errors.push({ field: 'sub', message: `sub must match ${PRINCIPAL_ID_PATTERN.source}` });
  if (!Array.isArray(groups) || groups.length > MAX_GROUPS || !groups.every((g) => typeof g === 'string' && PRINCIPAL_ID_PATTERN.test(g))) {
    errors.push({ field: 'groups', message: `groups must be at most ${MAX_GROUPS} ids matching ${PRINCIPAL_ID_PATTERN.source}` });
  }
  if (errors.length > 0) return errors;
  return { kind: 'user', id: sub as string, groups: [...new Set(groups as string[])], admin: false };
}

/**
 * The web console: its static app and its sign-in (development form where DEV_ISSUER=1, OpenID
 * Connect where CONSOLE_OIDC_ISSUER is set) and session. Everything else the console shows comes
 * from the public API, which accepts the session cookie (http/auth.guard.ts).
 */
@ApiExcludeController()
@Public()
@Controller('console')
export class ConsoleController {
  private readonly root = consoleRoot();
  private readonly oidc?: ConsoleOidc;
  private readonly log: JsonLogger;
  private readonly devSignIn: boolean;

  constructor(
    private readonly sessions: ConsoleSessions,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) logger: JsonLogger,
  ) {
    // The development form only runs beside the development issuer (embedded, or DEV_ISSUER=1).
    this.devSignIn = config.auth.devIssuer;
    this.log = logger.child('console');
    if (config.console.oidc && config.console.publicUrl) this.oidc = new ConsoleOidc(config.console.oidc, config.console.publicUrl);
  }

  @Get('api/session')
  async session(@Req() req: Request) {
    const methods = { dev: this.devSignIn, oidc: this.oidc !== undefined };
    const id = cookieOf(req, SESSION_COOKIE);
    const s = id === undefined ? null : await this.sessions.touch(id);
    if (!s) return { signedIn: false, methods };
    return {
      signedIn: true,
      methods,
      principal: { type: 'user', id: s.principal.id, groups: s.principal.groups },
      via: s.via,
      signedInAt: new Date(s.signedInAt).toISOString(),
      recentUntil: new Date(s.signedInAt + RECENT_SIGN_IN_MS).toISOString(),
      expiresAt: new Date(s.expiresAt).toISOString(),
    };
  }

  /** Development sign-in (embedded profile, DEV_ISSUER=1): names a user and groups, no password. */
  @Post('api/session/dev')
  @HttpCode(201)
  async devSession(@Req() req: Request, @Res({ passthrough: true }) res: Response, @Body() body: unknown) {
    if (!this.devSignIn) throw problems.notFound('the development sign-in is off (DEV_ISSUER=0)');
    this.sameOrigin(req);
    const b = (body ?? {}) as { sub?: unknown; groups?: unknown };
    const p = principalFrom(b.sub, b.groups ?? []);
    if (Array.isArray(p)) throw problems.badRequest(`invalid ${p.map((e) => e.field).join(', ')}`, p);
    await this.replaceSession(req, res, p, 'dev');
    return { signedIn: true, principal: { type: 'user', id: p.id, groups: p.groups } };
  }

  /** Sign-out: the session ends on the server (its cookie is worthless from now on, wherever it was copied). */
  @Delete('api/session')
  @HttpCode(204)
  async signOut(@Req() req: Request, @Res({ passthrough: true }) res: Response) {
    this.sameOrigin(req);
    const id = cookieOf(req, SESSION_COOKIE);
    if (id !== undefined) await this.sessions.end(id);
    clearCookie(res, SESSION_COOKIE);
  }

  @Get('auth/login')
  async login(@Query('reauth') reauth: unknown, @Res() res: Response) {
    if (!this.oidc) throw problems.notFound('OpenID Connect sign-in is not configured (CONSOLE_OIDC_ISSUER)');
    const { url, pending } = await this.oidc.start(reauth === '1').catch((e: unknown) => {
      this.log.warn('OIDC provider unreachable', describeError(e));
      throw problems.unavailable('the sign-in provider is unreachable');
    });
    // SameSite=Lax, not Strict: the provider's redirect back is a cross-site navigation.
    res.cookie(PENDING_COOKIE, Buffer.from(JSON.stringify(pending)).toString('base64url'), { httpOnly: true, secure: true, sameSite: 'lax', path: '/', maxAge: 600_000 });
    res.redirect(303, url);
  }

  @Get('auth/callback')
  async callback(@Req() req: Request, @Res() res: Response) {
    if (!this.oidc) throw problems.notFound('OpenID Connect sign-in is not configured (CONSOLE_OIDC_ISSUER)');
    const raw = cookieOf(req, PENDING_COOKIE);
    clearCookie(res, PENDING_COOKIE);
    let pending: PendingSignIn;
    try {
      pending = JSON.parse(Buffer.from(raw ?? '', 'base64url').toString('utf8')) as PendingSignIn;
      if (typeof pending.state !== 'string' || typeof pending.nonce !== 'string' || typeof pending.codeVerifier !== 'string') throw new Error('shape');
    } catch {
      throw problems.badRequest('no sign-in in progress in this browser: start again at /console', [{ field: 'state', message: 'no pending sign-in' }]);
    }
    const q = req.originalUrl.indexOf('?');
    if (q < 0) throw problems.badRequest('the provider sent no code', [{ field: 'code', message: 'missing' }]);
    let claims;
    try {
      claims = await this.oidc.finish(`${this.oidc.redirectUri}${req.originalUrl.slice(q)}`, pending);
    } catch (e) {
      this.log.warn('OIDC sign-in refused', { reason: e instanceof Error ? e.message : 'unknown' });
      throw problems.unauthorized('sign-in refused by the provider or not verifiable');
    }
    const p = principalFrom(claims.sub, claims.groups);
    if (Array.isArray(p)) throw problems.unauthorized(`ID token claim ${p.map((e) => e.field).join(', ')} invalid`);
    await this.replaceSession(req, res, p, 'oidc');
    res.redirect(303, '/console/');
  }

  @Get()
  index(@Res() res: Response) {
    this.sendFile(res, 'index.html');
  }

  @Get('*path')
  asset(@Param('path') path: string | string[], @Res() res: Response) {
    const rel = Array.isArray(path) ? path.join('/') : path;
    if (rel.startsWith('assets/') || rel === 'favicon.svg') return this.sendFile(res, rel);
    if (rel.startsWith('api/') || rel.startsWith('auth/')) throw problems.notFound('no such console endpoint');
    // Every other path is a screen of the app (client-side routes): the same page.
    this.sendFile(res, 'index.html');
  }

  private sendFile(res: Response, rel: string): void {
    if (!this.root) throw problems.notFound('the console is not built (npm run build)');
    if (!/^[A-Za-z0-9_-][A-Za-z0-9._/-]{0,200}$/.test(rel) || rel.split('/').some((s) => s === '..' || s === '.' || s === '')) throw problems.notFound('no such console file');
    if (!existsSync(join(this.root, rel))) throw problems.notFound('no such console file');
    // Hashed asset names change with their content: cache them; the page itself is never cached.
    res.setHeader('Cache-Control', rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-store');
    res.sendFile(rel, { root: this.root, dotfiles: 'deny', cacheControl: false, lastModified: false });
  }

  private sameOrigin(req: Request): void {
    const why = crossSiteProblem(req, this.config.console.publicUrl);
    if (why !== null) throw csrfRefused(why);
  }

  /** A fresh session (new id: no fixation), the old one of this browser ended. */
  private async replaceSession(req: Request, res: Response, p: UserPrincipal, via: 'dev' | 'oidc'): Promise<void> {
    const old = cookieOf(req, SESSION_COOKIE);
    if (old !== undefined) await this.sessions.end(old);
    this.sessions.setCookie(res, await this.sessions.create(p, via));
    this.log.info('console sign-in', { principal: p.id, via, origin: expectedOrigin(req, this.config.console.publicUrl) });
  }
}
