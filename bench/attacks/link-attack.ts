/**
 * A man in the middle on a device link: wraps the Transport a driver uses (a real serial port or
 * pseudo-terminal) and attacks what the board sends the bench, frame by frame (frames end at the
 * protocol's 0x00 delimiter, firmware-protocol/SPEC.md).
 *
 *   const mitm = new AttackedTransport(new SerialTransport({ path }));
 *   const link = new FirmwareLink(config, { transport: () => mitm });
 *   mitm.mode = { kind: 'record' };      // keep copies of the board's frames
 *   mitm.mode = { kind: 'replay' };      // swallow live frames, deliver recorded ones instead
 *
 * Replay is what a capable attacker does: an unsigned DEVICE_STATE is decoded, given the step
 * number of the live answer it replaces (the bench drops answers to old steps) and re-encoded
 * with a fresh CRC; a signed frame cannot be re-signed without the key, so it goes out as recorded
 * and it is the verifier's replay window that must reject it.
 *   mitm.mode = { kind: 'drop', probability: 0.5 } | { kind: 'delay', ms: 50 } | { kind: 'flood', bytes: 200 }
 *
 * Frames the bench sends pass unchanged; `inject` writes forged bytes to the board (spoofing).
 */
import { EventEmitter } from 'node:events';
import { decodeFrame, encodeFrame, type Frame } from '../../firmware-protocol/ts/index.ts';
import type { Transport, TransportEvents } from '../devices/transport.ts';

export type LinkAttackMode =
  | { kind: 'pass' }
  | { kind: 'record' }
  | { kind: 'replay' }
  | { kind: 'drop'; probability: number }
  | { kind: 'delay'; ms: number }
  | { kind: 'flood'; bytes: number };

export interface LinkAttackCounters {
  /** Live frames from the board seen by the attacker. */
  liveFrames: number;
  recordedFrames: number;
  /** Recorded frames delivered to the bench in place of live ones. */
  replayedFrames: number;
  droppedFrames: number;
  delayedFrames: number;
  floodBytes: number;
  injectedBytes: number;
}

export class AttackedTransport extends EventEmitter<TransportEvents> implements Transport {
  mode: LinkAttackMode = { kind: 'pass' };
  readonly counters: LinkAttackCounters = {
    liveFrames: 0,
    recordedFrames: 0,
    replayedFrames: 0,
    droppedFrames: 0,
    delayedFrames: 0,
    floodBytes: 0,
    injectedBytes: 0,
  };
  private readonly recorded: Uint8Array[] = [];
  private replayCursor = 0;
  private partial: number[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly inner: Transport,
    private readonly random: () => number = Math.random,
  ) {
    super();
    inner.on('data', (chunk) => this.fromBoard(chunk));
    inner.on('close', (error) => this.emit('close', error));
  }

  get path(): string {
    return this.inner.path;
  }
  get isOpen(): boolean {
    return this.inner.isOpen;
  }
  open(): Promise<void> {
    return this.inner.open();
  }
  write(bytes: Uint8Array): Promise<void> {
    return this.inner.write(bytes);
  }
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.inner.close();
  }

  /** Writes forged bytes to the board (spoofed commands). */
  inject(bytes: Uint8Array): Promise<void> {
    this.counters.injectedBytes += bytes.length;
    return this.inner.write(bytes);
  }

  /** Recorded frames (copies, each ending with its delimiter). */
  recording(): readonly Uint8Array[] {
    return this.recorded;
  }

  private fromBoard(chunk: Uint8Array): void {
    for (const byte of chunk) {
      this.partial.push(byte);
      if (byte !== 0) continue;
      const frame = Uint8Array.from(this.partial);
      this.partial = [];
      this.counters.liveFrames++;
      this.frame(frame);
    }
  }

  /** An unsigned recorded DEVICE_STATE re-stamped with the live answer's step and sequence number. */
  private adapt(old: Uint8Array, live: Uint8Array): Uint8Array {
    const recorded = tryDecode(old);
    const current = tryDecode(live);
    if (!recorded || recorded.signature || recorded.message.type !== 'DEVICE_STATE') return old;
    if (current?.message.type !== 'DEVICE_STATE') return old;
    return encodeFrame(
      { ...recorded.message, step: current.message.step },
      { seq: current.seq, deviceId: recorded.deviceId, compatFlags: recorded.compatFlags },
    );
  }

  private frame(frame: Uint8Array): void {
    const mode = this.mode;
    switch (mode.kind) {
      case 'pass':
        this.emit('data', frame);
        return;
      case 'record':
        this.recorded.push(frame);
        this.counters.recordedFrames++;
        this.emit('data', frame);
        return;
      case 'replay': {
        if (this.recorded.length === 0) return;
        const old = this.recorded[this.replayCursor % this.recorded.length];
        this.replayCursor++;
        this.counters.replayedFrames++;
        this.emit('data', this.adapt(old, frame));
        return;
      }
      case 'drop':
        if (this.random() < mode.probability) this.counters.droppedFrames++;
        else this.emit('data', frame);
        return;
      case 'delay': {
        this.counters.delayedFrames++;
        const t = setTimeout(() => {
          this.timers.delete(t);
          if (this.inner.isOpen) this.emit('data', frame);
        }, mode.ms);
        this.timers.add(t);
        return;
      }
      case 'flood': {
        // Line noise of non-zero bytes then a delimiter: the deframer must discard it and resync.
        const junk = new Uint8Array(mode.bytes + 1);
        for (let i = 0; i < mode.bytes; i++) junk[i] = 1 + Math.floor(this.random() * 255);
        this.counters.floodBytes += junk.length;
        this.emit('data', junk);
        this.emit('data', frame);
        return;
      }
    }
  }
}

function tryDecode(bytes: Uint8Array): Frame | undefined {
  try {
    return decodeFrame(bytes);
  } catch {
    return undefined;
  }
}
