/**
 * A Modbus RTU master over the project's `Transport` (serial port, pseudo-terminal, loopback,
 * mock), so the SunSpec driver runs on any of them and every frame it sends or receives can be
 * captured.
 *
 * Why not modbus-serial's client on a custom port: it matches an answer to the pending
 * transaction by its position only, so an answer that arrives after its request timed out is
 * either dropped without a trace or, if it has the same shape, taken for the next request's. Here
 * every byte is accounted for:
 *
 *   - requests go out one at a time, each after at least t3.5 of line silence (3.5 character
 *     times, the fixed 1.75 ms above 19200 baud) since the last byte sent or received;
 *   - an answer is complete at the length its request implies (5 + 2n for reads, 8 for writes, 5
 *     for an exception); its unit, function, byte count (reads) or echo (writes) and CRC-16 must
 *     match, or it is refused and never decoded. The refused burst is collected until t3.5 of
 *     silence and counted: a CRC-valid frame (an earlier request's answer) as `late`, anything
 *     else as a bad frame (and a CRC error from 4 bytes on);
 *   - bytes that arrive with no request waiting (an answer after its timeout, line noise) are
 *     counted the same way;
 *   - after a timeout the line must stay quiet for a further `timeout_ms` before the next request,
 *     so a slow device's answer lands in that window (counted late) instead of being taken for
 *     the answer to the next request. An answer later than twice the timeout cannot be told from
 *     a fresh one by a Modbus RTU master: the protocol has no transaction ids.
 *
 * From modbus-serial this keeps its CRC-16/MODBUS helper.
 */
import crc16 from 'modbus-serial/utils/crc16.js';
import { rtuFrameGap_ms } from './sunspec-map.ts';
import type { Transport } from './transport.ts';

/** CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF) over `bytes[0, end)`, modbus-serial's. */
export function crc16modbus(bytes: Uint8Array, end = bytes.length): number {
  return crc16(end === bytes.length ? bytes : bytes.subarray(0, end));
}

/** An ADU from unit id and PDU bytes, with the CRC appended low byte first. */
export function rtuFrame(unit: number, pdu: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(pdu.length + 3);
  out[0] = unit;
  out.set(pdu as ArrayLike<number>, 1);
  const crc = crc16modbus(out, pdu.length + 1);
  out[pdu.length + 1] = crc & 0xff;
  out[pdu.length + 2] = crc >> 8;
  return out;
}

/** True when the last two bytes are the frame's CRC-16/MODBUS (low byte first). */
export function hasValidCrc(frame: Uint8Array): boolean {
  if (frame.length < 4) return false;
  const n = frame.length;
  return crc16modbus(frame, n - 2) === (frame[n - 2] | (frame[n - 1] << 8));
}

const EXCEPTION_TEXT: Record<number, string> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'slave device failure',
  6: 'slave device busy',
};

/** The device answered with a Modbus exception. */
export class ModbusException extends Error {
  constructor(
    readonly functionCode: number,
    readonly code: number,
  ) {
    super(`Modbus exception ${code} (${EXCEPTION_TEXT[code] ?? 'unknown'}) to function ${functionCode}`);
    this.name = 'ModbusException';
  }
}

/** No (usable) answer: timed out, garbled, or the link closed. */
export class ModbusLinkError extends Error {
  constructor(
    readonly reason: 'timeout' | 'garbled' | 'closed',
    message: string,
  ) {
    super(message);
    this.name = 'ModbusLinkError';
  }
}

/** What the master counts; a driver may pass its own link counters to have them kept here. */
export interface ModbusRtuCounters {
  framesTx: number;
  framesRx: number;
  crcErrors: number;
  badFrames: number;
  late: number;
}

export interface ModbusRtuMasterOptions {
  /** Line speed, for t3.5. */
  baud: number;
  /**
   * How long to wait for an answer, ms, beyond the time the request and the answer take on the
   * wire at `baud`. @default 250
   */
  timeout_ms?: number;
  /** Every frame on the wire: requests, answers, late answers and noise bursts as received. */
  onFrame?: (direction: 'tx' | 'rx', bytes: Uint8Array) => void;
  /** Where the counts go. @default a fresh set */
  counters?: ModbusRtuCounters;
  /** Monotonic clock, ms. @default performance.now */
  now?: () => number;
}

interface Transaction {
  unit: number;
  functionCode: number;
  /** Length of a normal answer. */
  length: number;
  /** Bytes the answer must carry after unit and function (byte count, or the write echo). */
  expectHead: number[];
  buffer: Uint8Array;
  filled: number;
  timer: NodeJS.Timeout | undefined;
  resolve: (frame: Uint8Array) => void;
  reject: (error: Error) => void;
}

const MAX_ADU = 256;
/**
 * Bytes of one unsolicited burst kept for the frame capture. Longer bursts (a flooded line that
 * never falls quiet for t3.5) are accounted and captured in pieces of this size: memory stays
 * bounded, nothing is dropped from the capture.
 */
const STRAY_LIMIT = 4096;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ModbusRtuMaster {
  readonly counters: ModbusRtuCounters;
  /** Answers not received in time (each is also a failed request). */
  timeouts = 0;
  /** Exception answers. */
  exceptions = 0;
  private transport: Transport | undefined;
  private readonly gap_ms: number;
  /** Time one character (11 bits) takes on the wire, ms. */
  private readonly char_ms: number;
  private readonly timeout_ms: number;
  private readonly now: () => number;
  private readonly onFrame: ModbusRtuMasterOptions['onFrame'];
  private readonly onData = (chunk: Uint8Array) => this.receive(chunk);
  private pending: Transaction | undefined;
  /** The unsolicited burst being collected, `stray[0, strayLength)`. */
  private readonly stray = new Uint8Array(STRAY_LIMIT);
  private strayLength = 0;
  private strayTimer: NodeJS.Timeout | undefined;
  private lastLineActivity = Number.NEGATIVE_INFINITY;
  /** After a timeout: the line must be quiet this long (ms) before the next request. */
  private quietNeeded = 0;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(options: ModbusRtuMasterOptions) {
    this.gap_ms = rtuFrameGap_ms(options.baud);
    this.char_ms = (11 * 1000) / options.baud;
    this.timeout_ms = options.timeout_ms ?? 250;
    this.now = options.now ?? (() => performance.now());
    this.onFrame = options.onFrame;
    this.counters = options.counters ?? { framesTx: 0, framesRx: 0, crcErrors: 0, badFrames: 0, late: 0 };
  }

  /** Uses `transport` (already open) from now on; undefined detaches (the link went away). */
  attach(transport: Transport | undefined): void {
    this.transport?.off('data', this.onData);
    this.transport = transport;
    transport?.on('data', this.onData);
    const pending = this.pending;
    if (pending && !transport) this.settle(pending, new ModbusLinkError('closed', 'link closed'));
    if (!transport) this.closeStray();
  }

  /** Function 3: `count` (1…125) holding registers from `address`. */
  async readHoldingRegisters(unit: number, address: number, count: number): Promise<number[]> {
    if (!(Number.isInteger(count) && count >= 1 && count <= 125)) {
      throw new RangeError(`register count ${count} is not 1…125`);
    }
    const pdu = [3, address >> 8, address & 0xff, count >> 8, count & 0xff];
    const answer = await this.transact(unit, pdu, 5 + 2 * count, [2 * count]);
    const out = new Array<number>(count);
    for (let i = 0; i < count; i++) out[i] = (answer[3 + 2 * i] << 8) | answer[4 + 2 * i];
    return out;
  }

  /** Function 16: `values` (1…123 registers) from `address`. */
  async writeRegisters(unit: number, address: number, values: readonly number[]): Promise<void> {
    const n = values.length;
    if (n < 1 || n > 123) throw new RangeError(`register count ${n} is not 1…123`);
    const pdu = [16, address >> 8, address & 0xff, n >> 8, n & 0xff, 2 * n];
    for (const v of values) {
      if (!(Number.isInteger(v) && v >= 0 && v <= 0xffff)) throw new RangeError(`register value ${v}`);
      pdu.push(v >> 8, v & 0xff);
    }
    await this.transact(unit, pdu, 8, [address >> 8, address & 0xff, n >> 8, n & 0xff]);
  }

  /** Runs requests strictly one after the other. */
  private transact(unit: number, pdu: number[], length: number, expectHead: number[]): Promise<Uint8Array> {
    const run = () => this.send(unit, pdu, length, expectHead);
    const result = this.chain.then(run, run);
    this.chain = result.catch(() => {});
    return result;
  }

  private async send(unit: number, pdu: number[], length: number, expectHead: number[]): Promise<Uint8Array> {
    // t3.5 (or the post-timeout quiet time) since the last byte either way, and no burst still open.
    for (;;) {
      const quiet = Math.max(this.gap_ms, this.quietNeeded);
      const wait = quiet - (this.now() - this.lastLineActivity);
      if (wait <= 0 && this.strayLength === 0) break;
      await sleep(Math.max(1, Math.ceil(wait)));
    }
    this.quietNeeded = 0;
    const transport = this.transport;
    if (!transport?.isOpen) throw new ModbusLinkError('closed', 'link closed');
    const request = rtuFrame(unit, pdu);
    const answer = new Promise<Uint8Array>((resolve, reject) => {
      this.pending = {
        unit,
        functionCode: pdu[0],
        length,
        expectHead,
        buffer: new Uint8Array(MAX_ADU),
        filled: 0,
        timer: undefined,
        resolve,
        reject,
      };
    });
    const transaction = this.pending!;
    // The answer may come (or fail) before the write below settles: that is not unhandled.
    answer.catch(() => {});
    this.counters.framesTx++;
    this.onFrame?.('tx', request);
    try {
      await transport.write(request);
    } catch (err) {
      this.settle(transaction, new ModbusLinkError('closed', (err as Error).message));
      return answer;
    }
    this.lastLineActivity = this.now();
    if (this.pending === transaction) {
      // The wait starts when the request is handed over, so it includes the time both frames
      // take on the wire: 255 bytes at 9600 baud alone take 292 ms.
      const wait_ms = this.timeout_ms + (request.length + length) * this.char_ms;
      transaction.timer = setTimeout(() => {
        this.timeouts++;
        this.quietNeeded = this.timeout_ms;
        this.lastLineActivity = this.now();
        // Whatever part of an answer came is noise now.
        if (transaction.filled > 0) this.appendStray(transaction.buffer.subarray(0, transaction.filled));
        this.settle(
          transaction,
          new ModbusLinkError('timeout', `no answer within ${Math.round(wait_ms)} ms`),
        );
        this.closeStray();
      }, wait_ms);
    }
    return answer;
  }

  private settle(t: Transaction, outcome: Uint8Array | Error): void {
    if (this.pending !== t) return;
    this.pending = undefined;
    clearTimeout(t.timer);
    if (outcome instanceof Error) t.reject(outcome);
    else t.resolve(outcome);
  }

  private receive(chunk: Uint8Array): void {
    this.lastLineActivity = this.now();
    const t = this.pending;
    if (!t) {
      this.collectStray(chunk);
      return;
    }
    let used = 0;
    while (used < chunk.length && t.filled < t.buffer.length) {
      t.buffer[t.filled++] = chunk[used++];
      const verdict = this.check(t);
      if (verdict === 'more') continue;
      const frame = t.buffer.slice(0, t.filled);
      if (verdict === 'garbled') {
        // The rest of the burst belongs to the same garbage: collect it until the line is quiet.
        this.settle(t, new ModbusLinkError('garbled', 'garbled answer'));
        this.collectStray(frame);
        if (used < chunk.length) this.collectStray(chunk.subarray(used));
        return;
      }
      this.counters.framesRx++;
      this.onFrame?.('rx', frame);
      if (frame[1] & 0x80) {
        this.exceptions++;
        this.settle(t, new ModbusException(t.functionCode, frame[2]));
      } else {
        this.settle(t, frame);
      }
      if (used < chunk.length) this.collectStray(chunk.subarray(used));
      return;
    }
  }

  /** After each byte: is the answer so far still plausible, complete, or garbage? */
  private check(t: Transaction): 'more' | 'done' | 'garbled' {
    const b = t.buffer;
    const n = t.filled;
    if (b[0] !== t.unit) return 'garbled';
    if (n < 2) return 'more';
    const exception = b[1] === (t.functionCode | 0x80);
    if (!exception && b[1] !== t.functionCode) return 'garbled';
    const length = exception ? 5 : t.length;
    if (!exception && n >= 3 && n - 2 <= t.expectHead.length && b[n - 1] !== t.expectHead[n - 3]) {
      return 'garbled';
    }
    if (n < length) return 'more';
    if (!hasValidCrc(b.subarray(0, length))) return 'garbled';
    return 'done';
  }

  /**
   * Noise and late answers arrive here chunk by chunk (at line rate on a flooded line): no
   * allocation per chunk, one timer re-armed rather than a new one each time.
   */
  private collectStray(bytes: Uint8Array): void {
    this.appendStray(bytes);
    // Timers fire no sooner than 1 ms; a burst ends after t3.5 without a byte.
    if (this.strayTimer) this.strayTimer.refresh();
    else this.strayTimer = setTimeout(() => this.closeStray(), Math.max(1, Math.ceil(this.gap_ms)));
  }

  private appendStray(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      if (this.strayLength === STRAY_LIMIT) this.accountStray();
      const n = Math.min(bytes.length - at, STRAY_LIMIT - this.strayLength);
      this.stray.set(bytes.subarray(at, at + n), this.strayLength);
      this.strayLength += n;
      at += n;
    }
  }

  /** Ends the burst nobody asked for (line quiet, or link gone) and accounts for it. */
  private closeStray(): void {
    clearTimeout(this.strayTimer);
    this.strayTimer = undefined;
    this.accountStray();
  }

  /** Counts the collected burst as a late answer (a valid frame) or noise, and captures it. */
  private accountStray(): void {
    if (this.strayLength === 0) return;
    const burst = this.stray.slice(0, this.strayLength);
    this.strayLength = 0;
    this.onFrame?.('rx', burst);
    if (hasValidCrc(burst)) {
      this.counters.framesRx++;
      this.counters.late++;
      return;
    }
    this.counters.badFrames++;
    if (burst.length >= 4) this.counters.crcErrors++;
  }

  /** Waits until the request in progress (if any) has settled. */
  async idle(): Promise<void> {
    await this.chain;
  }
}
