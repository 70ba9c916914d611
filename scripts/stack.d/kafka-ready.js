// Health check for scripts/stack: the broker answers a metadata request. Exit 0 when it does.
const { Kafka, logLevel } = require('kafkajs');
const broker = process.argv[2];
const kafka = new Kafka({ clientId: 'stack-health', brokers: [broker], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 2000, requestTimeout: 3000 });
const admin = kafka.admin();
admin
  .connect()
  .then(() => admin.describeCluster())
  .then(() => admin.disconnect())
  .then(() => process.exit(0), () => process.exit(1));
setTimeout(() => process.exit(1), 8000).unref();
