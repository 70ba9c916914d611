import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Kafka } from 'kafkajs';

export const STACK = join(__dirname, '../../scripts/stack');

export interface ConsumedMessage {
  key: string;
  value: string;
  headers: Record<string, string>;
  partition: number;
  offset: string;
}

/** Fault tests may only stop or restart a broker that scripts/stack runs (not, say, docker-compose's). */
export function stackRunsThisBroker(brokers: string | undefined): boolean {
  if (!brokers) return false;
  try {
    return execFileSync('bash', [STACK, 'env'], { encoding: 'utf8' }).split('\n').includes(`export KAFKA_BROKERS=${brokers}`);
  } catch {
    return false;
  }
}

/** Reads `topic` from the beginning with a fresh group until `expected` messages arrived or `ms` passed. */
export async function consumeAll(kafka: Kafka, topic: string, expected: number, ms = 30_000): Promise<ConsumedMessage[]> {
  const consumer = kafka.consumer({ groupId: `test-${randomUUID()}` });
  const got: ConsumedMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        got.push({ key: String(message.key), value: String(message.value), headers, partition: batch.partition, offset: message.offset });
      }
    },
  });
  const deadline = Date.now() + ms;
  while (got.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await consumer.disconnect();
  return got;
}
