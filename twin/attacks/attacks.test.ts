import { describe, expect, it } from 'vitest';
import { Random } from '../random.ts';
import {
  BiasAttack,
  DelayJitterAttack,
  DropAttack,
  RampAttack,
  ReplayAttack,
  ScaleAttack,
  SpoofAttack,
  TimeSyncAttack,
} from './attacks.ts';
import { parseSecurityScenario } from './security.ts';

const dt = 0.01;
/** Feeds t = 0, dt, 2dt, … with value = f(t); returns the outputs. */
function drive(t: { apply(v: number, t: number): number }, n: number, f: (t: number) => number): number[] {
  const out: number[] = [];
  for (let k = 0; k < n; k++) out.push(t.apply(f(k * dt), k * dt));
  return out;
}

describe('attack transforms act only inside their window', () => {
  it('bias, ramp, scale and spoof', () => {
    const bias = drive(new BiasAttack(0.1, 0.2, 5), 30, () => 1);
    expect(bias[5]).toBe(1);
    expect(bias[10]).toBe(6);
    expect(bias[19]).toBe(6);
    expect(bias[20]).toBe(1);
    const ramp = drive(new RampAttack(0.1, 1, 2), 30, () => 0);
    expect(ramp[9]).toBe(0);
    expect(ramp[25]).toBeCloseTo(2 * 0.15, 12);
    expect(drive(new ScaleAttack(0, 1, 0.5), 3, () => 4)).toEqual([2, 2, 2]);
    expect(drive(new SpoofAttack(0.01, 1, -7), 3, () => 4)).toEqual([4, -7, -7]);
  });

  it('replay plays back the recorded window in a loop', () => {
    // Records t ∈ [0.05, 0.1): values 5..9, then plays 5,6,7,8,9,5,… while live values go on.
    const out = drive(new ReplayAttack(0.1, 1, 0.05, dt), 22, (t) => Math.round(t / dt));
    expect(out.slice(0, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(out.slice(10, 22)).toEqual([5, 6, 7, 8, 9, 5, 6, 7, 8, 9, 5, 6]);
  });

  it('drop with p = 1 holds the last delivered value; outside the window values pass', () => {
    const out = drive(new DropAttack(0.05, 0.1, 1, new Random(1)), 12, (t) => Math.round(t / dt));
    expect(out).toEqual([0, 1, 2, 3, 4, 4, 4, 4, 4, 4, 10, 11]);
  });

  it('delay shifts by delay_s; jitter never delivers a sample before its time or out of order', () => {
    const out = drive(new DelayJitterAttack(0, 10, 0.03, 0, dt, new Random(1)), 10, (t) =>
      Math.round(t / dt),
    );
    expect(out.slice(3)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const jit = drive(new DelayJitterAttack(0, 10, 0, 0.05, dt, new Random(2)), 200, (t) =>
      Math.round(t / dt),
    );
    for (let k = 1; k < jit.length; k++) {
      expect(jit[k]).toBeLessThanOrEqual(k);
      expect(jit[k]).toBeGreaterThanOrEqual(jit[k - 1]);
      expect(k - jit[k]).toBeLessThanOrEqual(6);
    }
  });

  it('time-sync: a 1 ms clock error at 50 Hz is an 18° phase error, growing with the drift', () => {
    const a = new TimeSyncAttack(0, 10, 0.001, 0.0001, 50);
    expect(a.apply(10, 0)).toBeCloseTo(10 + 18, 9);
    // After 2 s: 1.2 ms → 21.6°.
    expect(a.apply(10, 2)).toBeCloseTo(10 + 21.6, 9);
  });
});

describe('security section of a scenario file', () => {
  const head = 'name: x\ngrid: ../grids/demo-33bw-microgrids.yaml\nduration_s: 10\n';
  it('names the line and path of a bad attack', () => {
    const text = `${head}security:\n  attacks:\n    - { kind: bias, target: se.vm_pu.14, start_s: 1, bias: 1 }\n    - { kind: zap, target: x, start_s: 1 }\n`;
    expect(() => parseSecurityScenario(text, 's.yaml')).toThrow(
      /s\.yaml:7 \(at \/security\/attacks\/1\/kind\).*bias/,
    );
  });
  it('rejects unknown properties and an attack that stops before it starts', () => {
    expect(() => parseSecurityScenario(`${head}security:\n  atacks: []\n`, 's.yaml')).toThrow(
      /s\.yaml:5 .*unknown property 'atacks'/,
    );
    expect(() =>
      parseSecurityScenario(
        `${head}security:\n  attacks:\n    - { kind: bias, target: a.f_hz, start_s: 5, stop_s: 4, bias: 1 }\n`,
        's.yaml',
      ),
    ).toThrow(/s\.yaml:6 \(at \/security\/attacks\/0\).*stop after it starts/);
  });
});
