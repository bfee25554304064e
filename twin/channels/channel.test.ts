import { describe, expect, it } from 'vitest';
import { Random } from '../random.ts';
import {
  buildChannel,
  Channel,
  type ChannelTransform,
  DelayTransform,
  DropTransform,
  NoiseTransform,
  QuantiseTransform,
  specFor,
} from './channel.ts';

describe('channel transforms', () => {
  it('noise has the configured standard deviation and zero mean', () => {
    const t = new NoiseTransform(0.01, new Random(3));
    let s = 0;
    let s2 = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const e = t.apply(50) - 50;
      s += e;
      s2 += e * e;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.0005);
    expect(Math.sqrt(s2 / n)).toBeCloseTo(0.01, 3);
  });

  it('quantises to the nearest multiple of the quantum', () => {
    const q = new QuantiseTransform(0.01);
    expect(q.apply(49.9949)).toBeCloseTo(49.99, 12);
    expect(q.apply(49.9951)).toBeCloseTo(50.0, 12);
    expect(q.apply(-0.0149)).toBeCloseTo(-0.01, 12);
  });

  it('delays by exactly N steps', () => {
    const d = new DelayTransform(3);
    const out = [1, 2, 3, 4, 5, 6].map((v) => d.apply(v));
    expect(out).toEqual([1, 1, 1, 1, 2, 3]);
  });

  it('drops at the configured rate and holds the last delivered value', () => {
    const drop = new DropTransform(0.25, new Random(11));
    let held = 0;
    let last = -1;
    for (let i = 0; i < 10_000; i++) {
      const out = drop.apply(i);
      if (drop.dropped) {
        held++;
        expect(out).toBe(last);
      } else expect(out).toBe(i);
      last = out;
    }
    expect(held / 10_000).toBeGreaterThan(0.23);
    expect(held / 10_000).toBeLessThan(0.27);
  });
});

describe('Channel pipeline', () => {
  it('applies noise → quantise → delay → drop in order from a spec, reproducibly', () => {
    const a = buildChannel(
      'bess.f_hz',
      { noise_std: 0.002, quantum: 0.01, delay_s: 0.005, drop_probability: 0.1 },
      9,
      0.001,
    );
    const b = buildChannel(
      'bess.f_hz',
      { noise_std: 0.002, quantum: 0.01, delay_s: 0.005, drop_probability: 0.1 },
      9,
      0.001,
    );
    expect(a.transforms.map((t) => t.kind)).toEqual(['noise', 'quantise', 'delay', 'drop']);
    const outA = Array.from({ length: 200 }, (_, i) => a.process(50 + i * 0.001, i * 0.001));
    const outB = Array.from({ length: 200 }, (_, i) => b.process(50 + i * 0.001, i * 0.001));
    expect(outA).toEqual(outB);
    for (const v of outA) expect(Math.abs(v * 100 - Math.round(v * 100))).toBeLessThan(1e-9);
  });

  it('accepts an inserted transform (the hook attacks use) and removes it again', () => {
    const c = new Channel('x');
    const bias: ChannelTransform = { kind: 'bias', apply: (v) => v + 1, reset: () => {} };
    expect(c.process(5, 0)).toBe(5);
    c.insert(bias);
    expect(c.process(5, 0)).toBe(6);
    expect(c.remove(bias)).toBe(true);
    expect(c.process(5, 0)).toBe(5);
  });

  it('resolves specs from the most specific pattern', () => {
    const specs = {
      '*': { noise_std: 1 },
      '*.f_hz': { noise_std: 2 },
      'bess.*': { noise_std: 3 },
      'bess.f_hz': { noise_std: 4 },
    };
    expect(specFor(specs, 'bess', 'f_hz').noise_std).toBe(4);
    expect(specFor(specs, 'bess', 'vm_pu').noise_std).toBe(3);
    expect(specFor(specs, 'pv', 'f_hz').noise_std).toBe(2);
    expect(specFor(specs, 'pv', 'vm_pu').noise_std).toBe(1);
    expect(specFor(undefined, 'pv', 'vm_pu')).toEqual({});
  });
});
