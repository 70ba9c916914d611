import type { NextFunction, Request, Response } from 'express';
import { PROBLEM_BASE, ProblemException } from '../http/problem';

/**
 * The console's Content-Security-Policy: scripts and styles only from this origin (no inline script
 * or style, no eval), calls only to this origin, never framed. Vite builds with assetsInlineLimit 0
 * so nothing the app needs is inline.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** On every response under /console (pages, assets, sign-in, errors). */
export function consoleHeaders(req: Request, res: Response, next: NextFunction): void {
  if (req.path === '/console' || req.path.startsWith('/console/')) {
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=()');
  }
  next();
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The origin the console is served from: CONSOLE_PUBLIC_URL, else this request's own Host. */
export function expectedOrigin(req: Request, publicUrl: string | undefined): string {
  if (publicUrl) return new URL(publicUrl).origin;
  return `${req.protocol}://${req.get('host') ?? ''}`;
}

export function csrfRefused(detail: string): ProblemException {
  return new ProblemException({ type: `${PROBLEM_BASE}cross-site-request`, title: 'Cross-site request refused', status: 403, detail, reason: 'cross-site-request' });
}

/**
 * A state-changing request the session cookie authenticates must come from the console's own
 * origin (Origin equal to it, and Sec-Fetch-Site same-origin where the browser sends it — a request
 * with neither is refused) and carry JSON, which a cross-site form or a "simple" fetch cannot send
 * without a CORS preflight this service never grants. Returns why not, or null.
 */
export function crossSiteProblem(req: Request, publicUrl: string | undefined): string | null {
  if (SAFE.has(req.method)) return null;
  const site = req.header('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin') return `Sec-Fetch-Site ${site === 'same-site' || site === 'cross-site' || site === 'none' ? site : 'unexpected'}: only same-origin requests may use the console session`;
  const origin = req.header('origin');
  if (origin === undefined) return 'a request authenticated by the console session must carry an Origin header';
  if (origin !== expectedOrigin(req, publicUrl)) return 'Origin is not the console\'s origin';
  const type = (req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') return 'a request authenticated by the console session must send Content-Type: application/json';
  return null;
}
