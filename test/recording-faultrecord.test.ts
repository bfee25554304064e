/**
 * Real COMTRADE fault records drive the twin's main grid (binary and ASCII data files), and the
 * waveform processing is checked against the relay's own phasor channels in the same record.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDriveSeries, interpolate, loadFaultRecord, slidingRms } from '../bench/faultrecords/index.ts';
import { readManifest, readRunPoints } from '../bench/recording/index.ts';
import { Twin } from '../twin/twin.ts';
import { runGridloop } from './support/cli.ts';
import { budget } from './support/machine-speed.ts';

const fixtures = join(import.meta.dirname, 'fixtures', 'comtrade');
const repoRoot = join(import.meta.dirname, '..');
const grid = join(repoRoot, 'grids', 'demo-33bw-microgrids.yaml');
const tempDirs: string[] = [];
afterAll(async () => {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

const cli = (args: string[]) => runGridloop(args);

describe('fault-record replay into the twin', () => {
  it('binary (1999, C60 relay): waveform RMS agrees with the relay phasor magnitude, and the twin follows the record', {
    timeout: budget(60_000),
  }, async () => {
    const record = await loadFaultRecord(join(fixtures, 'wisp_c60_binary_1999', '3.cfg'));
    expect(record.comtrade?.config.format).toBe('BINARY');
    const va = record.signals.get('F5-VA')!;
    const magnitude = record.signals.get('SRC 1  Vag Mag')!;
    const [primary, secondary] = [190740, 57.8];
    const rms = slidingRms(va, 50);
    // Independent reference: the relay's own Vag magnitude channel (kV primary).
    for (let t = 0.05; t < 0.45; t += 0.05) {
      const ours = (interpolate(rms.time_s, rms.values, t) * primary) / secondary / 1000;
      const relay = interpolate(magnitude.time_s, magnitude.values, t);
      expect(Math.abs(ours - relay) / relay).toBeLessThan(0.02);
    }

    const dt = 0.001;
    const prefault_kv = interpolate(magnitude.time_s, magnitude.values, 0.2);
    const trace = buildDriveSeries(
      record.signals,
      {
        frequency: { channel: 'F5-VA', from: 'waveform' },
        voltage: { channel: 'SRC 1  Vag Mag', base: prefault_kv },
      },
      dt,
      record.nominal_hz,
    );
    // The dip starts at the record's trigger (0.5046 s after its start, from the .cfg).
    const trigger_s = Number(record.comtrade!.config.trigger_ns - record.comtrade!.config.start_ns) / 1e9;
    expect(trigger_s).toBeCloseTo(0.504614, 6);
    const before = trace.v_pu[Math.round((trigger_s - 0.03) / dt)];
    const after = Math.min(
      ...Array.from(trace.v_pu.slice(Math.round(trigger_s / dt), Math.round((trigger_s + 0.03) / dt))),
    );
    expect(before).toBeCloseTo(1, 2);
    expect(after).toBeLessThan(0.98);
    expect(trace.f_hz[Math.round(0.2 / dt)]).toBeGreaterThan(49.9);
    expect(trace.f_hz[Math.round(0.2 / dt)]).toBeLessThan(50.1);

    const twin = await Twin.fromFiles({ grid, seed: 1, dt_s: dt, gridTrace: trace });
    let compared = 0;
    for (let k = 0; k < Math.round(0.9 / dt); k++) {
      const state = twin.step([]);
      const connected = state.islands.find((i) => i.gridConnected);
      if (k % 50 !== 0 || !connected) continue;
      const expected = interpolate(trace.t_s, trace.f_hz, state.t_s);
      expect(Math.abs(connected.f_hz - expected), `f at ${state.t_s}`).toBeLessThan(0.05);
      compared++;
    }
    expect(compared).toBeGreaterThan(15);
  });

  it('ASCII (2013 IED record, 60 Hz): the phase-current waveform sets the main grid frequency, scaled to the twin', {
    timeout: budget(60_000),
  }, async () => {
    const record = await loadFaultRecord(join(fixtures, 'pycomtrade_sample_ascii_2013', 'sample_ascii.cfg'));
    expect(record.comtrade?.config.format).toBe('ASCII');
    expect(record.nominal_hz).toBe(60);
    const dt = 0.001;
    // A 60 Hz record replayed on a 50 Hz grid: frequency in per unit of the record's nominal.
    const trace = buildDriveSeries(
      record.signals,
      { frequency: { channel: 'IA', from: 'waveform', scale: 50 / 60 } },
      dt,
      60,
    );
    expect(trace.t_s.length).toBe(33);
    // One full cycle of IA is in the record; its period gives ~58 Hz (the fault's DC offset skews it).
    const recordHz = trace.f_hz[20] * (60 / 50);
    expect(recordHz).toBeGreaterThan(57);
    expect(recordHz).toBeLessThan(61);
    const twin = await Twin.fromFiles({ grid, seed: 1, dt_s: dt, gridTrace: trace });
    let state = twin.step([]);
    for (let k = 1; k < trace.t_s.length + 20; k++) state = twin.step([]);
    const connected = state.islands.find((i) => i.gridConnected)!;
    expect(connected.f_hz).toBeCloseTo(trace.f_hz[trace.f_hz.length - 1], 2);
  });

  it('gridloop replay <record.cfg> records a run whose main grid follows the record; bad channels exit 2', {
    timeout: budget(150_000),
  }, async () => {
    const runsDir = await mkdtemp(join(tmpdir(), 'gridloop-fault-cli-'));
    tempDirs.push(runsDir);
    const record = join(fixtures, 'wisp_c60_binary_1999', '3.cfg');
    const ok = await cli([
      'replay',
      record,
      '--frequency',
      'F5-VA',
      '--frequency-from',
      'waveform',
      '--voltage',
      'SRC 1  Vag Mag',
      '--voltage-base',
      '195',
      '--runs-dir',
      runsDir,
      '--record-hz',
      '200',
    ]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const [, runDir] = ok.stdout.match(/run saved in (\S+)/) ?? [];
    const manifest = await readManifest(runDir!);
    expect(manifest.status).toBe('complete');
    expect(manifest.mode).toBe('fault-record');
    const points = await readRunPoints(runDir!);
    const pcc = points.filter((p) => p.measurement === 'bus' && p.tags.bus === '1');
    // Bus 1 is the main-grid bus: its voltage dips after the record's trigger (0.5046 s).
    const at = (t: number) =>
      pcc.find((p) => Number(p.time_ns - BigInt(manifest.start_ns)) / 1e9 >= t)!.fields.vm_pu as number;
    expect(at(0.3)).toBeGreaterThan(0.99);
    expect(at(1.2)).toBeLessThan(0.1);

    const bad = await cli([
      'replay',
      record,
      '--voltage',
      'nope',
      '--voltage-base',
      '1',
      '--runs-dir',
      runsDir,
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/voltage channel 'nope' not found; channels: F1-IA/);
    const missing = await cli([
      'replay',
      join(fixtures, 'nope.cfg'),
      '--frequency',
      'x',
      '--runs-dir',
      runsDir,
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.cfg: cannot read/);
  });
});
