import { type FileHandle, open } from 'node:fs/promises';
import { promisify } from 'node:util';
import { constants, gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);

export interface GzipAppenderStats {
  /** Bytes queued but not yet on disk (pending + being compressed or written). */
  queuedBytes: number;
  /** Largest `queuedBytes` seen: how far behind the writer has fallen. */
  maxQueuedBytes: number;
  /** Uncompressed bytes on disk. */
  writtenBytes: number;
  /** Compressed bytes on disk. */
  fileBytes: number;
  /** gzip members written (one per flush that had data). */
  members: number;
  /** Slowest compress+write of one member, ms. */
  maxFlushMs: number;
}

/**
 * Appends data to a gzip file as one gzip member per flush. A gzip file may hold several members
 * back to back (RFC 1952 §2.2) and `gunzip`, `zcat`, `zlib.gunzipSync` and `influx -import
 * -compressed` read them as one stream, so a process killed between flushes leaves a file that is
 * readable up to the last flush. Compression runs on libuv's thread pool, never on the caller's
 * thread; members are written in order.
 */
export class GzipAppender {
  private pending: (string | Uint8Array)[] = [];
  /** Text appended since the last byte chunk: V8 concatenates strings as ropes, cheaply. */
  private pendingText = '';
  private pendingBytes = 0;
  private chain: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  readonly stats: GzipAppenderStats = {
    queuedBytes: 0,
    maxQueuedBytes: 0,
    writtenBytes: 0,
    fileBytes: 0,
    members: 0,
    maxFlushMs: 0,
  };

  private constructor(
    private readonly file: FileHandle,
    readonly path: string,
    /** zlib level 1 (fast) .. 9 (small); 0 writes the data as it is, without gzip framing. */
    private readonly level: number,
  ) {}

  /** Opens `path` for appending (creating it). Level 0 appends plain, uncompressed data. */
  static async open(path: string, level = 1): Promise<GzipAppender> {
    return new GzipAppender(await open(path, 'a'), path, level);
  }

  /** Queues text or bytes; cheap, never waits. */
  append(data: string | Uint8Array): void {
    if (typeof data === 'string') this.pendingText += data;
    else {
      if (this.pendingText !== '') this.pending.push(this.pendingText);
      this.pendingText = '';
      this.pending.push(data);
    }
    // String length approximates UTF-8 size closely enough for queue accounting.
    this.pendingBytes += data.length;
    this.stats.queuedBytes += data.length;
    if (this.stats.queuedBytes > this.stats.maxQueuedBytes)
      this.stats.maxQueuedBytes = this.stats.queuedBytes;
  }

  /** Bytes queued since the last flush started. */
  get pendingSize(): number {
    return this.pendingBytes;
  }

  /**
   * Compresses what is queued into one member and appends it. Resolves once it is written
   * (in the OS page cache: it survives the process being killed). Rejects if a write failed.
   */
  flush(): Promise<void> {
    if (this.pendingText !== '') {
      this.pending.push(this.pendingText);
      this.pendingText = '';
    }
    if (this.pending.length > 0) {
      const parts = this.pending;
      const size = this.pendingBytes;
      this.pending = [];
      this.pendingBytes = 0;
      // Compression starts now, on the thread pool, in parallel with earlier members; the
      // writes stay in order.
      const started = performance.now();
      const compressed = this.compress(parts);
      compressed.catch(() => {});
      this.chain = this.chain.then(() => this.writeMember(compressed, size, started));
    }
    return this.chain.then(() => {
      if (this.failure) throw this.failure;
    });
  }

  private async compress(parts: (string | Uint8Array)[]): Promise<{ raw: number; member: Buffer }> {
    const raw = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
    const member =
      this.level === 0
        ? raw
        : await gzipAsync(raw, {
            level: this.level,
            strategy: constants.Z_DEFAULT_STRATEGY,
            // zlib fills one output chunk per trip to the thread pool, and each trip waits for
            // the main thread to schedule the next: with the default 16 KiB a member of a few
            // MiB took hundreds of trips, so while the caller was busy encoding, compression
            // stalled and the whole run piled up in memory (bench:record's queue peaked at
            // 200 MB). An output chunk as large as the input makes it one trip.
            chunkSize: Math.max(constants.Z_DEFAULT_CHUNK, raw.length),
          });
    return { raw: raw.length, member };
  }

  private async writeMember(
    compressed: Promise<{ raw: number; member: Buffer }>,
    size: number,
    started: number,
  ): Promise<void> {
    try {
      const { raw, member } = await compressed;
      if (this.failure) return;
      let offset = 0;
      while (offset < member.length) {
        const { bytesWritten } = await this.file.write(member, offset, member.length - offset);
        offset += bytesWritten;
      }
      this.stats.writtenBytes += raw;
      this.stats.fileBytes += member.length;
      this.stats.members++;
    } catch (err) {
      this.failure ??= new Error(`writing ${this.path}: ${(err as Error).message}`);
    } finally {
      this.stats.queuedBytes -= size;
      const ms = performance.now() - started;
      if (ms > this.stats.maxFlushMs) this.stats.maxFlushMs = ms;
    }
  }

  /** Flushes, syncs to disk and closes. */
  async close(): Promise<void> {
    try {
      await this.flush();
      await this.file.sync();
    } finally {
      await this.file.close();
    }
  }
}
