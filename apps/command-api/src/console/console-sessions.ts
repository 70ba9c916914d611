import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { Request, Response } from 'express';
import { UserPrincipal } from '@app/domain';
import { AppConfig } from '@app/infra/config/config';
import { CONFIG, SQL } from '@app/infra/nest/tokens';
import type { SqlClient } from '@app/infra/sql/sql-client';

/** The session cookie: `__Host-` so only this origin, over HTTPS, path `/`, can set it. */
export const SESSION_COOKIE = '__Host-ps-console';
/** Approve, deny and break-glass review need a sign-in younger than this. */
export const RECENT_SIGN_IN_MS = 10 * 60 * 1000;

export interface ConsoleSession {
  principal: UserPrincipal;
  signedInAt: number;
  lastSeenAt: number;
  /** When it ends if used now: the sooner of idle and absolute lifetime (ms since the epoch). */
  expiresAt: number;
  absoluteExpiresAt: number;
  via: 'dev' | 'oidc';
}

interface Row {
  principal: UserPrincipal | string;
  signed_in_at: Date | string;
  last_seen_at: Date | string;
  via: string;
}

/**
 * Server-side console sessions, kept in the database the profile uses (PGlite embedded, PostgreSQL
 * in production): every command-API replica sees the same sessions, so a sign-out on one ends the
 * session on all, and a restart signs nobody out. The cookie holds only a random id; the table
 * holds its SHA-256, never the id itself, so a database dump replays no session.
 */
@Injectable()
export class ConsoleSessions implements OnModuleInit {
  private readonly idleMs: number;
  private readonly maxMs: number;

  constructor(@Inject(SQL) private readonly sql: SqlClient, @Inject(CONFIG) config: AppConfig) {
    this.idleMs = config.console.idleSeconds * 1000;
    this.maxMs = config.console.maxSeconds * 1000;
  }

  async onModuleInit(): Promise<void> {
    // Replicas starting together may race on CREATE TABLE IF NOT EXISTS (PostgreSQL then reports a
    // duplicate type or table): the table exists either way.
    await this.createTable().catch(async (e: { code?: string }) => {
      if (e?.code !== '23505' && e?.code !== '42P07') throw e;
    });
  }

  private async createTable(): Promise<void> {
    await this.sql.query(`CREATE TABLE IF NOT EXISTS console_sessions (
      id_hash      text PRIMARY KEY,
      principal    jsonb NOT NULL,
      via          text NOT NULL,
      signed_in_at timestamptz NOT NULL,
      last_seen_at timestamptz NOT NULL
    )`);
  }

  /** A new session for the principal; returns the cookie value (the only copy of the id). */
  async create(principal: UserPrincipal, via: 'dev' | 'oidc', now = Date.now()): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    const at = new Date(now).toISOString();
    await this.sql.query('INSERT INTO console_sessions (id_hash, principal, via, signed_in_at, last_seen_at) VALUES ($1, $2::jsonb, $3, $4, $4)', [hash(id), JSON.stringify(principal), via, at]);
    // Old sessions go as new ones come: no separate sweeper to run.
    await this.sql.query('DELETE FROM console_sessions WHERE signed_in_at < $1 OR last_seen_at < $2', [new Date(now - this.maxMs).toISOString(), new Date(now - this.idleMs).toISOString()]);
    return id;
  }

  /** The live session of a cookie value, its idle clock restarted; null when unknown, idle too long or too old (then deleted). */
  async touch(id: string, now = Date.now()): Promise<ConsoleSession | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return null;
    const { rows } = await this.sql.query<Row>('SELECT principal, via, signed_in_at, last_seen_at FROM console_sessions WHERE id_hash = $1', [hash(id)]);
    if (rows.length === 0) return null;
    const r = rows[0];
    const signedInAt = new Date(r.signed_in_at).getTime();
    const lastSeenAt = new Date(r.last_seen_at).getTime();
    if (now - lastSeenAt >= this.idleMs || now - signedInAt >= this.maxMs) {
      await this.end(id);
      return null;
    }
    // One write a minute at most per session: the idle clock is that coarse.
    if (now - lastSeenAt > 60_000) await this.sql.query('UPDATE console_sessions SET last_seen_at = $2 WHERE id_hash = $1', [hash(id), new Date(now).toISOString()]);
    const principal = typeof r.principal === 'string' ? (JSON.parse(r.principal) as UserPrincipal) : r.principal;
    const absoluteExpiresAt = signedInAt + this.maxMs;
    return { principal, signedInAt, lastSeenAt: now, expiresAt: Math.min(now + this.idleMs, absoluteExpiresAt), absoluteExpiresAt, via: r.via === 'oidc' ? 'oidc' : 'dev' };
  }

  async end(id: string): Promise<void> {
    await this.sql.query('DELETE FROM console_sessions WHERE id_hash = $1', [hash(id)]);
  }

  setCookie(res: Response, id: string): void {
    res.cookie(SESSION_COOKIE, id, { httpOnly: true, secure: true, sameSite: 'strict', path: '/', maxAge: this.maxMs });
  }
}

function hash(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

/** The value of one cookie of the request (no cookie-parser: one header, split by hand, never evaluated). */
export function cookieOf(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function clearCookie(res: Response, name: string): void {
  res.clearCookie(name, { httpOnly: true, secure: true, sameSite: 'strict', path: '/' });
}
