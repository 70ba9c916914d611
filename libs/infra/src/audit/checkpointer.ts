import { formatCheckpoint, signNote } from '@app/domain/audit-log';
import { AuditLogStore, StoredCheckpoint } from './audit-log-store';
import { AuditSigningKey } from './signing-key';
import { describeError, JsonLogger } from '../logging/logger';

/**
 * Signs a checkpoint (C2SP signed note: origin, tree size, root hash) of the committed log every
 * `everyRecords` new records or `everySeconds`, whichever comes first, when the tree has grown.
 */
export class Checkpointer {
  private timer?: NodeJS.Timeout;
  private running?: Promise<StoredCheckpoint | undefined>;
  private lastSize = -1;

  constructor(
    private readonly store: AuditLogStore,
    private readonly key: AuditSigningKey,
    private readonly origin: string,
    private readonly opts: { everyRecords: number; everySeconds: number },
    private readonly logger: JsonLogger,
    private readonly onCheckpoint: (c: StoredCheckpoint) => void = () => undefined,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.checkpoint().catch((e) => this.logger.warn('checkpoint failed', describeError(e))), this.opts.everySeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Called after each committed batch: checkpoints early once enough records arrived. */
  async maybeCheckpoint(): Promise<void> {
    // Only a trigger: the in-memory size the appender keeps (sign() reads the committed size).
    const size = await this.store.treeSize();
    if (this.lastSize < 0) this.lastSize = (await this.store.latestCheckpoint())?.treeSize ?? 0;
    if (size - this.lastSize >= this.opts.everyRecords) await this.checkpoint();
  }

  /** Signs the committed tree if it grew since the last checkpoint. Serialised. */
  checkpoint(): Promise<StoredCheckpoint | undefined> {
    const run = (this.running ?? Promise.resolve(undefined)).catch(() => undefined).then(() => this.sign());
    this.running = run;
    return run;
  }

  private async sign(): Promise<StoredCheckpoint | undefined> {
    const size = await this.store.committedSize();
    const latest = await this.store.latestCheckpoint();
    if (size === 0 || (latest && latest.treeSize >= size)) return latest;
    const rootHash = await this.store.rootAt(size);
    const note = signNote(formatCheckpoint({ origin: this.origin, treeSize: size, rootHash }), this.origin, this.key.privateKey);
    await this.store.saveCheckpoint({ treeSize: size, rootHash, note });
    this.lastSize = size;
    const c = (await this.store.checkpoint(size))!;
    this.onCheckpoint(c);
    return c;
  }
}
