import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { EmbeddedApp, startEmbedded } from './embedded-app';
import { scratchDatabase } from './scratch-database';

// The two profiles an e2e suite runs on: embedded (always) and production on PostgreSQL and Kafka
// (a scratch database and topics of its own, when scripts/test-all has set DATABASE_URL and
// KAFKA_BROKERS). Use with describe.each(appProfiles('label')).

export interface StartedProfile {
  t: EmbeddedApp;
  /** The audit topic (production profile). */
  topic?: string;
  kafka?: Kafka;
  cleanup(): Promise<void>;
}

export interface AppProfile {
  name: string;
  start(): Promise<StartedProfile>;
}

export function appProfiles(label: string, extraEnv: Record<string, string> = {}): AppProfile[] {
  const profiles: AppProfile[] = [
    {
      name: 'embedded profile',
      start: async () => {
        const t = await startEmbedded({ env: extraEnv });
        return { t, cleanup: () => t.close() };
      },
    },
  ];
  const { DATABASE_URL, KAFKA_BROKERS } = process.env;
  if (!DATABASE_URL || !KAFKA_BROKERS) {
    console.warn(`SKIPPED ${label} e2e on the production profile: DATABASE_URL and KAFKA_BROKERS must be set (scripts/test-all sets them)`);
    return profiles;
  }
  profiles.push({
    name: 'production profile (PostgreSQL, Kafka)',
    start: async () => {
      const db = await scratchDatabase(DATABASE_URL, label);
      const topic = `audit-${label}-${randomUUID().slice(0, 8)}`;
      const t = await startEmbedded({
        env: { PROFILE: 'production', DATABASE_URL: db.url, DEV_ISSUER: '1', KAFKA_BROKERS, AUDIT_TOPIC: topic, AUDIT_CHECKPOINT_TOPIC: `${topic}-checkpoints`, AUDIT_CHECKPOINT_SECONDS: '1', ...extraEnv },
      });
      const kafka = new Kafka({ clientId: `${label}-test`, brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 300 } });
      return {
        t,
        topic,
        kafka,
        cleanup: async () => {
          await t.close().catch(() => undefined);
          await db.drop();
        },
      };
    },
  });
  return profiles;
}

// Only Date is faked (timers, I/O and the event loop stay real), so the service's clock can be
// moved on without waiting. The token verifier keeps the real clock for iat.
const NOT_DATE = ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] as const;
export async function withClockAt<T>(ms: number, f: () => Promise<T>): Promise<T> {
  jest.useFakeTimers({ doNotFake: [...NOT_DATE], now: ms });
  try {
    return await f();
  } finally {
    jest.useRealTimers();
  }
}
