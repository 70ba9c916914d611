import { ConfigError, loadConfig } from '@app/infra/config/config';
import { start } from './bootstrap';

/** Entry used by every app: APPS picks which of the three run in this process. */
export function run(defaultApps?: string): void {
  const env = { ...process.env };
  if (defaultApps && !env.APPS) env.APPS = defaultApps;
  let config;
  try {
    config = loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  start(config).catch((e: Error) => {
    process.stderr.write(`failed to start: ${e.name}: ${e.message}\n`);
    process.exit(1);
  });
}
