import 'reflect-metadata';
import { INestApplication, Module, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import express, { NextFunction, Request, Response } from 'express';
import { CommandApiModule } from './command-api/src/command-api.module';
import { bodyShapeProblem, validationPipe } from './command-api/src/http/validation';
import { ProjectorModule } from './projector/src/projector.module';
import { AuditorModule } from './auditor/src/auditor.module';
import { AppConfig } from '@app/infra/config/config';
import { describeError } from '@app/infra/logging/logger';
import { HealthController } from '@app/infra/nest/health.controller';
import { InfraModule } from '@app/infra/nest/infra.module';
import { createInfrastructure, Infrastructure } from '@app/infra/nest/infrastructure';
import { PROBLEM_BASE } from './command-api/src/http/problem';

/** Request bodies: a 64 KiB value, JSON-escaped, fits well below this; anything larger is 413. */
export const MAX_BODY = '512kb';

@Module({ controllers: [HealthController] })
class HealthModule {}

export interface RunningApp {
  app: INestApplication;
  infra: Infrastructure;
}

/** Builds the Nest application for the apps named in config.APPS (all three in the embedded profile). */
export async function createApp(config: AppConfig, infra?: Infrastructure): Promise<RunningApp> {
  const shared = infra ?? (await createInfrastructure(config));
  const appModules: Type[] = [];
  if (config.apps.includes('command-api')) appModules.push(CommandApiModule);
  if (config.apps.includes('projector')) appModules.push(ProjectorModule);
  if (config.apps.includes('auditor')) appModules.push(AuditorModule);

  @Module({ imports: [InfraModule.forRoot(shared), HealthModule, ...appModules] })
  class RootModule {}

  const app = await NestFactory.create(RootModule, { bodyParser: false, logger: shared.logger.child('nest'), abortOnError: false });
  const metrics = shared.metrics;
  const server = app.getHttpAdapter().getInstance() as express.Express;
  server.disable('x-powered-by');
  // No computed ETags: every answer is Cache-Control: no-store, and express's (a SHA-1 of the body,
  // converted to a Buffer for it) would put a digest of a secret value in a header of its access
  // answer. ETags the API gives on purpose (a secret's revision) are set by their routes.
  server.set('etag', false);
  app.use((req: Request, res: Response, next: NextFunction) => {
    const end = metrics.httpDuration.startTimer();
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    res.on('finish', () => {
      const route = (req.route?.path as string | undefined) ?? 'unmatched';
      metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      end({ method: req.method, route });
    });
    next();
  });
  app.use(
    express.json({
      limit: MAX_BODY,
      strict: true,
      type: ['application/json', 'application/*+json'],
      // Keys that reach object prototypes have no meaning in this API: refuse the body outright.
      reviver: (key, value) => {
        if (key === '__proto__' || key === 'constructor' || key === 'prototype') throw new SyntaxError(`forbidden key ${key}`);
        return value;
      },
    }),
  );
  // Too many keys, items or levels: refused before class-validator, whose cost (and error list) grows with each key.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const why = bodyShapeProblem(req.body);
    if (why === null) return next();
    res
      .status(413)
      .type('application/problem+json')
      .send(JSON.stringify({ type: `${PROBLEM_BASE}too-large`, title: 'Payload too large', status: 413, detail: `request body too complex: ${why}`, errors: [{ field: 'body', message: why }], instance: req.originalUrl.split('?')[0] }));
  });
  app.useGlobalPipes(validationPipe());
  app.enableShutdownHooks();

  if (config.apps.includes('command-api')) {
    const doc = new DocumentBuilder()
      .setTitle('Pipeline secrets: policy and audit API')
      .setDescription('REST contract v1 (see API.md). Errors are application/problem+json (RFC 9457).')
      .setVersion('1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
      .build();
    SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, doc), { jsonDocumentUrl: 'docs-json' });
  }
  await app.init();
  // Errors raised by the body parser never reach Nest's filters: answer them as problems here.
  app.use((err: { type?: string; status?: number; code?: unknown }, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const tooLarge = err?.type === 'entity.too.large' || err?.status === 413;
    const status = tooLarge ? 413 : err?.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) shared.logger.error('unhandled middleware error', describeError(err));
    // zlib's errors (a body that is not the gzip, deflate or br it claims to be) carry codes such as Z_DATA_ERROR.
    const notDecodable = typeof err?.code === 'string' && err.code.startsWith('Z_');
    const unsupported = status === 415 || err?.type === 'encoding.unsupported' || err?.type === 'charset.unsupported';
    const problem = tooLarge
      ? { type: `${PROBLEM_BASE}too-large`, title: 'Payload too large', status, detail: `request body exceeds ${MAX_BODY}` }
      : unsupported
        ? { type: `${PROBLEM_BASE}unsupported-media-type`, title: 'Unsupported media type', status: 415, detail: 'unsupported Content-Encoding or charset: send UTF-8 JSON, identity, gzip, deflate or br', errors: [{ field: 'Content-Encoding', message: 'identity, gzip, deflate or br; charset utf-8' }] }
      : status === 500
        ? { type: `${PROBLEM_BASE}internal`, title: 'Internal error', status, detail: 'an unexpected error occurred' }
        : notDecodable
          ? { type: `${PROBLEM_BASE}invalid-request`, title: 'Invalid request', status, detail: 'request body is not encoded as its Content-Encoding says', errors: [{ field: 'Content-Encoding', message: 'body does not decompress' }] }
          : { type: `${PROBLEM_BASE}invalid-request`, title: 'Invalid request', status, detail: 'malformed request body (JSON expected)', errors: [{ field: 'body', message: 'not valid JSON' }] };
    res.status(status).type('application/problem+json').send(JSON.stringify({ ...problem, instance: req.originalUrl.split('?')[0] }));
  });
  return { app, infra: shared };
}

/** Starts listening and says where, and how to get a first token. */
export async function start(config: AppConfig): Promise<RunningApp> {
  const running = await createApp(config);
  await running.app.listen(config.port, config.host);
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
  const log = running.infra.logger.child('main');
  log.info('listening', { url, profile: config.profile, apps: config.apps, dataDir: config.profile === 'embedded' ? config.dataDir : undefined });
  if (running.infra.devIssuer) {
    process.stderr.write(
      `\npipeline-secrets ${config.profile} profile listening on ${url} (apps: ${config.apps.join(', ')})\n` +
        `  API docs:           ${url}/docs\n` +
        `  first admin token:  npm run --silent cli -- token --sub admin --admin\n` +
        `  (development issuer; keys in ${config.dataDir})\n\n`,
    );
  }
  return running;
}
