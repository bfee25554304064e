/**
 * Deterministic replay. The twin is pure and deterministic (same grid, seed, step, inputs and
 * commands → same bits), so a run can be re-driven without hardware from what its devices and
 * operators fed it, stamped with the step it was applied at:
 *
 *   - `in`   the device inputs that changed before a step (decoded from the device frames);
 *   - `cmd`  an operator command applied before a step;
 *   - `act`  a scenario action scheduled for a step (at twin time `t`, applied inside the step);
 *   - `hash` a SHA-256 over every step's outputs so far (a checkpoint every `hashEvery` steps and
 *            at the end).
 *
 * The loop process feeds a `ReplayLogWriter` (cheap, no I/O) and posts its records with each
 * batch; the recorder appends them to `replay.jsonl.gz` in the run folder. `replayRun` rebuilds
 * the twin from the manifest's `loop` section, re-applies the records, hashes its own outputs and
 * compares them checkpoint by checkpoint: equal hashes mean bit-identical outputs.
 */
import { createHash, type Hash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeviceInput, TwinCommand, TwinLike, TwinState } from '../../twin/api.ts';
import type { Twin, TwinAction } from '../../twin/twin.ts';
import { RunFolderError } from './manifest.ts';
import { gunzipTolerant } from './read-run.ts';

export const REPLAY_FILE = 'replay.jsonl.gz';

export type ReplayRecord =
  | { s: number; k: 'in'; d: DeviceInput[] }
  | { s: number; k: 'cmd'; c: TwinCommand }
  | { s: number; k: 'act'; t: number; a: TwinAction }
  | { s: number; k: 'hash'; h: string };

/**
 * Hashes twin outputs bit for bit: every float is fed as its 8 IEEE-754 bytes (so −0 ≠ 0 and
 * NaN payloads count), strings as UTF-8. Field order is fixed here, not taken from object order.
 */
export class TwinStateHasher {
  private hash: Hash = createHash('sha256');
  /**
   * Steps' bytes, assembled here and hashed in chunks of up to FLUSH_BYTES (SHA-256 is a stream:
   * the digest does not depend on how the bytes were split), so a step allocates nothing.
   */
  private buffer = new Uint8Array(64 * 1024);
  private view = new DataView(this.buffer.buffer);
  private used = 0;
  private readonly encoded = new Map<string, Uint8Array>();
  private readonly encoder = new TextEncoder();
  /** Device ids in hashing order, kept while the state's device set stays the same. */
  private deviceIds: string[] = [];

  private static readonly FLUSH_BYTES = 48 * 1024;

  private reserve(bytes: number): void {
    if (this.used + bytes <= this.buffer.length) return;
    this.flush();
    if (bytes <= this.buffer.length) return;
    this.buffer = new Uint8Array(bytes * 2);
    this.view = new DataView(this.buffer.buffer);
  }
  private flush(): void {
    if (this.used === 0) return;
    this.hash.update(this.buffer.subarray(0, this.used));
    this.used = 0;
  }
  private f64(x: number): void {
    this.reserve(8);
    this.view.setFloat64(this.used, x, true);
    this.used += 8;
  }
  private text(s: string): void {
    let bytes = this.encoded.get(s);
    if (!bytes) {
      bytes = this.encoder.encode(`${s}\0`);
      if (this.encoded.size < 10_000) this.encoded.set(s, bytes);
    }
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.used);
    this.used += bytes.length;
  }

  /**
   * The state's device ids, sorted; sorted again only for another record (the twin builds its
   * device record once and updates its entries in place).
   */
  private sortedDeviceIds(devices: TwinState['devices']): string[] {
    if (devices !== this.devicesSeen) {
      this.deviceIds = Object.keys(devices).sort();
      this.devicesSeen = devices;
    }
    return this.deviceIds;
  }
  private devicesSeen: TwinState['devices'] | undefined;

  add(state: TwinState): void {
    this.f64(state.t_s);
    this.f64(state.step);
    for (let i = 0; i < state.vm_pu.length; i++) {
      this.f64(state.vm_pu[i]);
      this.f64(state.va_deg[i]);
    }
    for (const island of state.islands) {
      this.text(island.id);
      this.f64(island.f_hz);
      this.f64(island.rocof_hz_s);
      this.f64((island.energised ? 1 : 0) + (island.gridConnected ? 2 : 0));
    }
    const ids = this.sortedDeviceIds(state.devices);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const d = state.devices[id];
      this.text(id);
      this.f64(d.p_mw);
      this.f64(d.q_mvar);
      this.f64(d.soc ?? Number.NaN);
      this.f64((d.online ? 1 : 0) + (d.tripped ? 2 : 0));
    }
    for (const e of state.events) {
      this.text(e.kind);
      this.text(e.message);
      this.text(e.target ?? '');
    }
    if (this.used >= TwinStateHasher.FLUSH_BYTES) this.flush();
  }

  /** The hash of everything added so far (the running hash continues). */
  digest(): string {
    this.flush();
    return this.hash.copy().digest('hex');
  }
}

function sameInput(a: DeviceInput | undefined, b: DeviceInput): boolean {
  return (
    a !== undefined &&
    Object.is(a.p_mw, b.p_mw) &&
    Object.is(a.q_mvar, b.q_mvar) &&
    a.online === b.online &&
    Object.is(a.soc, b.soc) &&
    a.mode === b.mode &&
    a.deviceId === b.deviceId
  );
}

/** Collects replay records inside the loop: call inputs() and command() before, state() after each step. */
/**
 * Steps between two hand-overs of replay records to the recorder by the as-fast-as-possible
 * runners (simulate, attack); each batch ends with a checkpoint, so a crash loses at most one.
 */
export const REPLAY_BATCH_STEPS = 1000;

export class ReplayLogWriter {
  private records: ReplayRecord[] = [];
  private readonly last = new Map<string, DeviceInput>();
  private readonly hasher = new TwinStateHasher();
  private lastStep = -1;

  constructor(private readonly hashEvery = 1000) {}

  /** Records the inputs that differ from the last ones seen (copies them: callers reuse objects). */
  inputs(step: number, inputs: readonly DeviceInput[]): void {
    let changed: DeviceInput[] | undefined;
    for (const input of inputs) {
      if (sameInput(this.last.get(input.deviceId), input)) continue;
      const copy = { ...input };
      this.last.set(input.deviceId, copy);
      changed ??= [];
      changed.push(copy);
    }
    if (changed) this.records.push({ s: step, k: 'in', d: changed });
  }

  command(step: number, command: TwinCommand): void {
    this.records.push({ s: step, k: 'cmd', c: command });
  }

  /** A scenario action scheduled at twin time `t_s` for this step (ScenarioPlayer.scheduleDue). */
  action(step: number, t_s: number, action: TwinAction): void {
    this.records.push({ s: step, k: 'act', t: t_s, a: action });
  }

  state(step: number, state: TwinState): void {
    this.hasher.add(state);
    this.lastStep = step;
    if ((step + 1) % this.hashEvery === 0) this.checkpoint();
  }

  private checkpoint(): void {
    if (this.lastStep < 0 || this.lastStep === this.lastCheckpoint) return;
    this.records.push({ s: this.lastStep, k: 'hash', h: this.hasher.digest() });
    this.lastCheckpoint = this.lastStep;
  }
  private lastCheckpoint = -1;

  /** Adds the final checkpoint (call once after the last step). */
  finish(): void {
    this.checkpoint();
  }

  /**
   * Takes the records collected since the last call (to post them with a batch), ending with a
   * checkpoint of the last step: whatever part of the log reached the disk before a crash can be
   * replayed and compared to its very end.
   */
  drain(): ReplayRecord[] {
    this.checkpoint();
    const out = this.records;
    this.records = [];
    return out;
  }
}

/** Serialises records for replay.jsonl.gz (one JSON object a line). */
export function replayLines(records: readonly ReplayRecord[]): string {
  let text = '';
  for (const r of records) text += `${JSON.stringify(r)}\n`;
  return text;
}

export async function readReplayLog(dir: string): Promise<ReplayRecord[]> {
  const path = join(dir, REPLAY_FILE);
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    throw new RunFolderError(
      `${path}: no replay log (${(err as NodeJS.ErrnoException).code}); this run was recorded without step-stamped inputs`,
    );
  }
  const text = gunzipTolerant(data, path).toString('utf8');
  const lines = text.split('\n');
  if (!text.endsWith('\n')) lines.pop(); // cut off by a crash
  const records: ReplayRecord[] = [];
  lines.forEach((line, i) => {
    if (line === '') return;
    let r: ReplayRecord;
    try {
      r = JSON.parse(line) as ReplayRecord;
    } catch (err) {
      throw new RunFolderError(`${path}:${i + 1}: not JSON: ${(err as Error).message}`);
    }
    if (
      typeof r?.s !== 'number' ||
      !Number.isInteger(r.s) ||
      r.s < 0 ||
      !['in', 'cmd', 'act', 'hash'].includes(r.k)
    ) {
      throw new RunFolderError(
        `${path}:${i + 1}: $.s must be a step number and $.k one of in, cmd, act, hash`,
      );
    }
    records.push(r);
  });
  return records;
}

export interface ReplayProgress {
  step: number;
  state: TwinState;
}

export interface ReplayControl {
  /** Called before each step; resolve to go on (pacing, pause, single-step live here). */
  beforeStep?(step: number): Promise<void> | void;
  /** Called after each step with the twin's new state. */
  afterStep?(progress: ReplayProgress): void;
}

export interface ReplayResult {
  steps: number;
  checkpoints: number;
  /** True when every recorded checkpoint hash matched. */
  identical: boolean;
  /** First checkpoint whose hash differed. */
  divergence?: { step: number; recorded: string; replayed: string };
  finalHash: string;
}

/**
 * Re-drives a twin from replay records. `twin` must be built exactly as the original was (same
 * grid, seed, step, devices and schedule); the caller does that from the manifest.
 */
export async function replayRecords(
  twin: TwinLike & Pick<Twin, 'scheduleAt'>,
  records: readonly ReplayRecord[],
  deviceIds: readonly string[],
  control: ReplayControl = {},
): Promise<ReplayResult> {
  const hashes = records.filter((r): r is Extract<ReplayRecord, { k: 'hash' }> => r.k === 'hash');
  const lastStep = hashes.length > 0 ? hashes[hashes.length - 1].s : Math.max(-1, ...records.map((r) => r.s));
  const inputs: DeviceInput[] = deviceIds.map((deviceId) => ({
    deviceId,
    p_mw: 0,
    q_mvar: 0,
    online: false,
  }));
  const slot = new Map(deviceIds.map((id, i) => [id, i]));
  const hasher = new TwinStateHasher();
  let r = 0;
  let h = 0;
  let checkpoints = 0;
  let divergence: ReplayResult['divergence'];
  for (let step = 0; step <= lastStep; step++) {
    await control.beforeStep?.(step);
    while (r < records.length && records[r].s <= step) {
      const record = records[r++];
      if (record.s < step) continue;
      if (record.k === 'cmd') twin.command(record.c);
      else if (record.k === 'act') twin.scheduleAt(record.t, record.a);
      else if (record.k === 'in') {
        for (const input of record.d) {
          const i = slot.get(input.deviceId);
          if (i === undefined)
            throw new RunFolderError(`replay log: step ${step}: unknown device '${input.deviceId}'`);
          inputs[i] = input;
        }
      }
    }
    const state = twin.step(inputs);
    hasher.add(state);
    control.afterStep?.({ step, state });
    while (h < hashes.length && hashes[h].s === step) {
      checkpoints++;
      const replayed = hasher.digest();
      if (!divergence && replayed !== hashes[h].h) divergence = { step, recorded: hashes[h].h, replayed };
      h++;
    }
  }
  return {
    steps: lastStep + 1,
    checkpoints,
    identical: divergence === undefined && checkpoints > 0,
    divergence,
    finalHash: hasher.digest(),
  };
}
