import { describe, expect, it } from 'vitest';
import type { BusMeasurement, TwinLike } from '../../twin/api.ts';
import {
  buildDriveSeries,
  FaultRecordError,
  parseCsvRecord,
  type Signal,
  slidingRms,
  withBusDrive,
  zeroCrossingFrequency,
} from './drive.ts';

/** v(t) = √2·230·sin(2π·f·t), sampled at `rate`: closed-form RMS 230 and frequency f. */
function sine(f: number, rate: number, seconds: number, amplitude = Math.SQRT2 * 230): Signal {
  const n = Math.round(seconds * rate);
  const time_s = new Float64Array(n);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    time_s[i] = i / rate;
    values[i] = amplitude * Math.sin(2 * Math.PI * f * time_s[i] + 0.3);
  }
  return { name: 'v', unit: 'V', time_s, values };
}

describe('signals from waveforms', () => {
  it('one-cycle RMS of a sine is amplitude/√2', () => {
    const rms = slidingRms(sine(50, 4000, 0.2), 50);
    for (let i = 100; i < rms.values.length; i += 37) expect(rms.values[i]).toBeCloseTo(230, 1);
  });

  it('zero-crossing frequency recovers an off-nominal sine, also with jittered sample times', () => {
    const f = zeroCrossingFrequency(sine(49.2, 3200, 0.5), 50);
    expect(f.values.length).toBeGreaterThan(20);
    for (const x of f.values) expect(x).toBeCloseTo(49.2, 3);
    const jittered = sine(50.5, 1000, 0.5);
    for (let i = 1; i < jittered.time_s.length; i++) {
      jittered.time_s[i] += (i % 3) * 1e-5;
      jittered.values[i] = Math.SQRT2 * 230 * Math.sin(2 * Math.PI * 50.5 * jittered.time_s[i] + 0.3);
    }
    // Linear interpolation of the crossing between 1 kHz samples: a few mHz of error.
    for (const x of zeroCrossingFrequency(jittered, 50).values) expect(Math.abs(x - 50.5)).toBeLessThan(0.01);
  });

  it('holds the last frequency through a voltage collapse instead of inventing one', () => {
    const s = sine(50, 4000, 0.4);
    for (let i = 800; i < s.values.length; i++) s.values[i] *= 0.001;
    const f = zeroCrossingFrequency(s, 50);
    expect(f.time_s[f.time_s.length - 1]).toBeLessThan(0.21);
  });

  it('builds a uniform drive (Hz, pu) from waveform channels', () => {
    const signals = new Map([['VA', sine(49.5, 4000, 0.3, Math.SQRT2 * 11_000)]]);
    const drive = buildDriveSeries(
      signals,
      {
        frequency: { channel: 'VA', from: 'waveform' },
        voltage: { channel: 'VA', from: 'waveform', base: 10_000 },
      },
      0.001,
    );
    expect(drive.t_s[1]).toBeCloseTo(0.001, 12);
    expect(drive.t_s.length).toBe(300);
    expect(drive.f_hz[200]).toBeCloseTo(49.5, 3);
    // The RMS window is one nominal cycle (20 ms), not a whole number of 49.5 Hz cycles: ≤ 1 % ripple.
    expect(Math.abs(drive.v_pu[200] - 1.1)).toBeLessThan(0.011);
    expect(() => buildDriveSeries(signals, { frequency: { channel: 'VB' } }, 0.001)).toThrow(
      "frequency channel 'VB' not found; channels: VA",
    );
    expect(() => buildDriveSeries(signals, {}, 0.001)).toThrow(FaultRecordError);
  });
});

describe('CSV fault records', () => {
  it('reads t_s plus named columns with units, skipping comments', () => {
    const signals = parseCsvRecord('# grid event\nt_s,f_hz,V [kV]\n0,50,11\n0.5,49.5,10.5\n1,49.8,11\n');
    expect(signals.get('V')?.unit).toBe('kV');
    const drive = buildDriveSeries(
      signals,
      { frequency: { channel: 'f_hz' }, voltage: { channel: 'V', base: 11 } },
      0.25,
    );
    expect(Array.from(drive.f_hz)).toEqual([50, 49.75, 49.5, 49.65, 49.8]);
    expect(drive.v_pu[2]).toBeCloseTo(10.5 / 11, 12);
  });

  it('reads ISO 8601 times relative to the first row', () => {
    const signals = parseCsvRecord('time,f_hz\n2024-03-01T10:00:00Z,50\n2024-03-01T10:00:01.5Z,49\n');
    expect(Array.from(signals.get('f_hz')!.time_s)).toEqual([0, 1.5]);
  });

  it('names file:line for bad rows', () => {
    expect(() => parseCsvRecord('t_s,f\n0,50\n1,abc\n', 'ev.csv')).toThrow(
      "ev.csv:3: column 'f' value 'abc' is not a number",
    );
    expect(() => parseCsvRecord('t_s,f\n1,50\n0,50\n', 'ev.csv')).toThrow(
      'ev.csv:3: time 0 goes back from 1',
    );
    expect(() => parseCsvRecord('a,b\n0,50\n', 'ev.csv')).toThrow('ev.csv:1: no time column');
    expect(() => parseCsvRecord('t_s,f\n0,50,3\n', 'ev.csv')).toThrow('ev.csv:2: 3 cells, the header has 2');
  });
});

describe('bus drive', () => {
  it('replaces what devices at the driven bus measure, and only theirs', () => {
    const base: BusMeasurement = { vm_pu: 1, va_deg: 0, f_hz: 50, rocof_hz_s: 0, t_s: 0, step: 0 };
    let t = 0;
    const twin: TwinLike = {
      dt_s: 0.1,
      step: () => {
        t += 0.1;
        return undefined as never;
      },
      measurementFor: () => ({ ...base, t_s: t }),
      command: () => ({ t_s: t, kind: 'x', message: '' }),
    };
    const series = {
      t_s: Float64Array.of(0, 1),
      f_hz: Float64Array.of(50, 49),
      v_pu: Float64Array.of(1, 0.5),
    };
    const driven = withBusDrive(twin, ['bess'], series);
    t = 0.5;
    expect(driven.measurementFor('bess')).toMatchObject({ f_hz: 49.5, vm_pu: 0.75 });
    expect(driven.measurementFor('pv')).toMatchObject({ f_hz: 50, vm_pu: 1 });
    t = 0.6;
    expect(driven.measurementFor('bess').rocof_hz_s).toBeCloseTo(-1, 9);
  });
});
