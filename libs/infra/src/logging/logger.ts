import { LoggerService } from '@nestjs/common';

// JSON lines on stdout. Callers pass structured fields; request bodies, headers and secret
// values are never handed to the logger (the canary tests check the output).
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

export type LogSink = (line: string) => void;

export class JsonLogger implements LoggerService {
  private static sink: LogSink = (line) => process.stdout.write(line + '\n');

  /** Tests capture every line the service writes. */
  static setSink(sink: LogSink): void {
    JsonLogger.sink = sink;
  }

  constructor(private readonly level: LogLevel = 'info', private readonly component = 'app') {}

  child(component: string): JsonLogger {
    return new JsonLogger(this.level, component);
  }

  private write(level: LogLevel, message: unknown, fields?: Record<string, unknown>): void {
    if (LEVELS[level] < LEVELS[this.level]) return;
    const entry: Record<string, unknown> = { time: new Date().toISOString(), level, component: this.component, msg: typeof message === 'string' ? message : String(message) };
    if (fields) Object.assign(entry, fields);
    JsonLogger.sink(JSON.stringify(entry));
  }

  debug(message: unknown, fields?: Record<string, unknown> | string): void {
    this.write('debug', message, typeof fields === 'object' ? fields : fields ? { context: fields } : undefined);
  }
  log(message: unknown, fields?: Record<string, unknown> | string): void {
    this.write('info', message, typeof fields === 'object' ? fields : fields ? { context: fields } : undefined);
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.write('info', message, fields);
  }
  warn(message: unknown, fields?: Record<string, unknown> | string): void {
    this.write('warn', message, typeof fields === 'object' ? fields : fields ? { context: fields } : undefined);
  }
  error(message: unknown, fields?: Record<string, unknown> | string): void {
    // Nest passes a stack string as the second argument; keep it, it holds no request data.
    this.write('error', message, typeof fields === 'object' ? fields : fields ? { stack: fields } : undefined);
  }
  verbose(message: unknown): void {
    this.write('debug', message);
  }
}

/** The error's class and message only: never the objects an error may carry (bodies, configs). */
export function describeError(err: unknown): Record<string, unknown> {
  if (err instanceof Error) return { error: err.name, errorMessage: err.message };
  return { error: typeof err };
}
