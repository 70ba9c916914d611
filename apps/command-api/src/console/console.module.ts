import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { ConsoleController } from './console.controller';
import { consoleHeaders } from './console-security';
import { ConsoleSessions } from './console-sessions';

/** The web console (/console): static app, sign-in, server-side sessions; the API guard reads the sessions. */
@Module({ controllers: [ConsoleController], providers: [ConsoleSessions], exports: [ConsoleSessions] })
export class ConsoleModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(consoleHeaders).forRoutes(ConsoleController);
  }
}
