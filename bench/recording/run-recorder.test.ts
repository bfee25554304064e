import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePcap, pcapFileHeader, pcapRecord } from './frame-capture.ts';
import { readManifest } from './manifest.ts';
import { readRunEvents, readRunFrames, readRunPoints } from './read-run.ts';
import { RunRecorder } from './run-recorder.ts';

const dirs: string[] = [];
async function tempRunsDir() {
  const dir = await mkdtemp(join(tmpdir(), 'gridloop-rec-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('RunRecorder', () => {
  it('writes a run folder whose points, events, frames and manifest read back exactly', async () => {
    const runsDir = await tempRunsDir();
    const rec = await RunRecorder.open({
      runsDir,
      scenario: 'step load/1',
      manifest: {
        grid: 'grids/x.m',
        seed: 7,
        dt_s: 0.001,
        devices: [{ id: 'bess-hw', transport: 'serial' }],
      },
    });
    expect(rec.dir.startsWith(runsDir)).toBe(true);
    expect(rec.id).toMatch(/^\d{8}-\d{6}-\d{3}-step_load_1$/);
    expect((await readManifest(rec.dir)).status).toBe('incomplete');

    for (let i = 0; i < 1000; i++) {
      rec.point('island', { island: 'mg1' }, { f_hz: 50 + i * 1e-4, energised: true }, rec.timeOf(i * 0.001));
    }
    rec.event({ kind: 'command', message: 'open CB3', target: 'CB3', source: 'operator', t_s: 0.5 });
    rec.frame('tx', 'bess-hw', new Uint8Array([0xaa, 1, 2, 3]), 1_700_000_000_123_456_789n);
    rec.frame('rx', 'bess-hw', new Uint8Array([0xaa, 9]), 1_700_000_000_223_456_789n);
    rec.assertion({ name: 'f ok', passed: true, value: 50.05 });
    const manifest = await rec.close({ status: 'complete' });

    expect(manifest.status).toBe('complete');
    expect(manifest.seed).toBe(7);
    expect(manifest.devices[0].id).toBe('bess-hw');
    expect(manifest.versions.node).toBe(process.version);
    expect(manifest.git.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(manifest.counts?.frames).toBe(2);
    expect(await readManifest(rec.dir)).toEqual(manifest);

    const points = await readRunPoints(rec.dir);
    const island = points.filter((p) => p.measurement === 'island');
    expect(island).toHaveLength(1000);
    expect(island[123].fields.f_hz).toBe(50 + 123 * 1e-4);
    expect(island[123].tags).toEqual({ run: rec.id, island: 'mg1' });
    expect(island[123].time_ns).toBe(rec.start_ns + 123_000_000n);
    const assertion = points.find((p) => p.measurement === 'assertion');
    expect(assertion?.fields).toEqual({ passed: true, value: 50.05 });
    expect(points.some((p) => p.measurement === 'recorder')).toBe(true);

    const events = await readRunEvents(rec.dir);
    const command = events.find((e) => e.kind === 'command');
    expect(command).toMatchObject({ message: 'open CB3', target: 'CB3', source: 'operator', t_s: 0.5 });
    expect(command?.time_ns).toBe(rec.start_ns + 500_000_000n);
    expect(events.map((e) => e.kind)).toEqual(['run-start', 'command', 'run-end']);
    expect(points.filter((p) => p.measurement === 'event').map((p) => p.tags.kind)).toEqual([
      'run-start',
      'command',
      'run-end',
    ]);

    const { frames } = await readRunFrames(rec.dir);
    expect(frames).toEqual([
      {
        time_ns: 1_700_000_000_123_456_789n,
        direction: 'tx',
        deviceId: 'bess-hw',
        bytes: new Uint8Array([0xaa, 1, 2, 3]),
      },
      {
        time_ns: 1_700_000_000_223_456_789n,
        direction: 'rx',
        deviceId: 'bess-hw',
        bytes: new Uint8Array([0xaa, 9]),
      },
    ]);
  });

  it('keeps lines whole across chunk boundaries, also very long and non-ASCII ones', async () => {
    const rec = await RunRecorder.open({ runsDir: await tempRunsDir(), scenario: 's' });
    const long = `Ω≈ç√ ${'x'.repeat(1_500_000)} 🙂`;
    for (let i = 0; i < 30_000; i++)
      rec.point('event', { kind: 'k' }, { message: `ünïcode ${i} — ∑` }, BigInt(i));
    rec.point('event', { kind: 'long' }, { message: long }, 1n);
    for (let i = 0; i < 30_000; i++) rec.point('bus', { bus: 'β' }, { vm_pu: i / 7 }, BigInt(i));
    await rec.close();
    const points = await readRunPoints(rec.dir);
    const events = points.filter((p) => p.measurement === 'event' && p.tags.kind === 'k');
    expect(events).toHaveLength(30_000);
    expect(events[29_999].fields.message).toBe('ünïcode 29999 — ∑');
    expect(points.find((p) => p.tags.kind === 'long')?.fields.message).toBe(long);
    const bus = points.filter((p) => p.measurement === 'bus');
    expect(bus).toHaveLength(30_000);
    expect(bus.every((p, i) => p.fields.vm_pu === i / 7 && p.tags.bus === 'β')).toBe(true);
  });

  it('sends everything up to run-end to sinks, and keeps events a sink logs while it closes', async () => {
    const received: string[] = [];
    let log: (kind: string, message: string) => void = () => {};
    const sink = {
      name: 'fake',
      write: (text: string) => received.push(text),
      stats: () => ({ state: 'up' }),
      open: async (_dir: string, l: typeof log) => {
        log = l;
      },
      close: async () => {
        await new Promise((r) => setTimeout(r, 20));
        log('sink-up', 'back-filled during close');
      },
    };
    const rec = await RunRecorder.open({ runsDir: await tempRunsDir(), scenario: 's', sinks: [sink] });
    rec.point('loop', {}, { work_us: 1 }, 5n);
    const manifest = await rec.close({
      status: 'complete',
      assertions: [{ name: 'nadir', passed: false, t_s: 0 }],
    });
    const sent = received.join('');
    expect(sent).toContain(`loop,run=${rec.id} work_us=1 5`);
    expect(sent).toMatch(/event,run=[^ ]*,kind=run-end/);
    // The run's verdict reaches InfluxDB as it is in the manifest; the assertion once.
    expect(manifest.verdict).toMatchObject({ passed: false, failed: ['nadir'] });
    expect(sent).toMatch(/\nverdict,run=[^ ]* passed=false,status="complete",assertions=1i,failures=1i,/);
    expect(sent.match(/\nassertion,/g)).toHaveLength(1);
    const events = await readRunEvents(rec.dir);
    expect(events.map((e) => e.kind)).toEqual(['run-start', 'run-end', 'sink-up']);
  });

  it('writes pcap global and record headers byte for byte as the pcap-savefile format defines', () => {
    const header = Buffer.from(pcapFileHeader());
    expect(header.toString('hex')).toBe('4d3cb2a1020004000000000000000000ffff000093000000');
    const record = Buffer.from(pcapRecord('rx', 'ab', new Uint8Array([7]), 2_000_000_003n));
    // ts_sec=2, ts_nsec=3, incl_len=orig_len=5, then dir 0, id length 2, 'a' 'b', payload 7.
    expect(record.toString('hex')).toBe('02000000030000000500000005000000' + '00026162' + '07');
  });

  it('keeps a run separate when two start in the same millisecond', async () => {
    const runsDir = await tempRunsDir();
    const now_ns = () => 1_700_000_000_000_000_000n;
    const a = await RunRecorder.open({ runsDir, scenario: 's', now_ns });
    const b = await RunRecorder.open({ runsDir, scenario: 's', now_ns });
    expect(a.dir).not.toBe(b.dir);
    expect(b.id).toBe(`${a.id}-2`);
    await Promise.all([a.close(), b.close()]);
  });

  it('counts and logs unwritable points instead of throwing at the caller', async () => {
    const rec = await RunRecorder.open({ runsDir: await tempRunsDir(), scenario: 's' });
    rec.point('bus', { bus: '1' }, { vm_pu: Number.NaN }, 1n);
    rec.point('bus', { bus: '1' }, { vm_pu: Number.NaN, va_deg: 0 }, 2n);
    const manifest = await rec.close();
    expect(manifest.counts?.rejectedPoints).toBe(1);
    expect(manifest.counts?.nonFiniteFields).toBe(2);
    const events = await readRunEvents(rec.dir);
    expect(events.find((e) => e.kind === 'recorder-error')?.message).toMatch(/no writable field/);
  });

  it('has flushed to disk within the flush interval without being closed', async () => {
    const rec = await RunRecorder.open({ runsDir: await tempRunsDir(), scenario: 's', flushInterval_ms: 50 });
    rec.point('loop', {}, { lateness_us: 3 }, 10n);
    await new Promise((r) => setTimeout(r, 300));
    const raw = gunzipSync(await readFile(join(rec.dir, 'points.lp.gz'))).toString();
    expect(raw).toContain(`loop,run=${rec.id} lateness_us=3 10\n`);
    await rec.close();
  });

  it('reads a points file whose last gzip member was cut off, up to the last whole line', async () => {
    const dir = await tempRunsDir();
    const first = gzipSync('a v=1 1\n');
    const second = gzipSync('a v=2 2\na v=3 3\n');
    await writeFile(
      join(dir, 'points.lp.gz'),
      Buffer.concat([first, second.subarray(0, second.length - 12)]),
    );
    const points = await readRunPoints(dir);
    expect(points[0].fields.v).toBe(1);
    expect(points.length).toBeGreaterThanOrEqual(1);
    expect(points.every((p) => typeof p.fields.v === 'number')).toBe(true);
  });

  it('reports where a damaged capture or log is wrong', async () => {
    const dir = await tempRunsDir();
    const bad = Buffer.concat([
      Buffer.from(pcapFileHeader()),
      Buffer.from(pcapRecord('tx', 'd', new Uint8Array([1]), 1n)),
    ]);
    bad[24 + 16] = 9;
    expect(() => parsePcap(bad, 'frames.pcap')).toThrow('frames.pcap: byte 40: direction byte 9');
    await writeFile(join(dir, 'events.jsonl'), '{"time_ns":"1","kind":"k","message":"m"}\n{oops\n');
    await expect(readRunEvents(dir)).rejects.toThrow(/events\.jsonl:2: not JSON/);
    await writeFile(join(dir, 'manifest.json'), '{"format":"other"}');
    await expect(readManifest(dir)).rejects.toThrow(/\$\.format/);
  });
});
