import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultFidParams, FlexibleInterconnection } from './fid.ts';

describe('FlexibleInterconnection', () => {
  it('balances power: P_a + P_b + losses = 0 for any transfer, direction and loss', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -2, max: 2, noNaN: true }),
        fc.double({ min: 0, max: 0.1, noNaN: true }),
        fc.double({ min: 0, max: 0.01, noNaN: true }),
        (p, lossFraction, noLoad) => {
          const fid = new FlexibleInterconnection(
            'f',
            defaultFidParams({
              rating_mva: 2,
              p_ab_mw: p,
              lossFraction,
              noLoadLoss_mw: noLoad,
              ramp_mw_s: 1e9,
            }),
          );
          fid.step(50, 50, true, true, 50, 0.001);
          expect(fid.pA_mw + fid.pB_mw + fid.losses_mw).toBeCloseTo(0, 12);
          expect(fid.losses_mw).toBeCloseTo(lossFraction * Math.abs(p) + noLoad, 12);
        },
      ),
    );
  });

  it('ramps to a new set-point at its ramp limit and respects the rating', () => {
    const fid = new FlexibleInterconnection(
      'f',
      defaultFidParams({ rating_mva: 1, p_ab_mw: 0, ramp_mw_s: 0.5 }),
    );
    expect(fid.transfer_mw).toBe(0);
    fid.setTransfer(5);
    for (let i = 0; i < 1000; i++) fid.step(50, 50, true, true, 50, 0.001);
    expect(fid.transfer_mw).toBeCloseTo(0.5, 9);
    for (let i = 0; i < 2000; i++) fid.step(50, 50, true, true, 50, 0.001);
    expect(fid.transfer_mw).toBeCloseTo(1, 9);
  });

  it('a schedule ramp moves the set-point linearly over ramp_s: half-way at half the time, energy (from + to)/2 · T', () => {
    const fid = new FlexibleInterconnection(
      'f',
      defaultFidParams({ rating_mva: 1, p_ab_mw: 0.1, ramp_mw_s: 1 }),
    );
    fid.setTransfer(0.4, 60);
    const dt = 0.1;
    let energy = 0;
    for (let k = 1; k <= 600; k++) {
      fid.step(50, 50, true, true, 50, dt);
      energy += fid.transfer_mw * dt;
      if (k === 300) expect(fid.transfer_mw).toBeCloseTo(0.25, 9);
    }
    expect(fid.transfer_mw).toBeCloseTo(0.4, 9);
    // (0.1 + 0.4)/2 × 60 s = 15 MW·s, plus half a step of the change (the schedule moves first in a step).
    expect(energy).toBeCloseTo(15 + (0.3 * dt) / 2, 9);
    // A new set-point mid-ramp starts from where the schedule is; without ramp_s it is a step.
    fid.setTransfer(0, 10);
    for (let k = 0; k < 50; k++) fid.step(50, 50, true, true, 50, dt);
    expect(fid.transfer_mw).toBeCloseTo(0.2, 9);
    fid.setTransfer(-0.5);
    fid.step(50, 50, true, true, 50, dt);
    expect(fid.params.p_ab_mw).toBe(-0.5);
    // The converter's own ramp (1 MW/s) still limits the transfer: 0.2 − 0.1 MW in the step.
    expect(fid.transfer_mw).toBeCloseTo(0.1, 9);
  });

  it('frequency-support mode sends power from the higher-frequency side, proportional to Δf', () => {
    const fid = new FlexibleInterconnection(
      'f',
      defaultFidParams({ rating_mva: 1, mode: 'frequency-support', supportGain_mw_hz: 2, ramp_mw_s: 1e9 }),
    );
    fid.step(50.1, 49.9, true, true, 50, 0.001);
    expect(fid.transfer_mw).toBeCloseTo(0.4, 9);
    fid.step(49.95, 50.05, true, true, 50, 0.001);
    expect(fid.transfer_mw).toBeCloseTo(-0.2, 9);
  });

  it('emergency mode supports a side below its threshold, and stops when a side is dead', () => {
    const fid = new FlexibleInterconnection(
      'f',
      defaultFidParams({
        rating_mva: 1,
        mode: 'emergency',
        ramp_mw_s: 1e9,
        emergencyBelow_hz: 49.5,
        donorFloor_hz: 49.8,
      }),
    );
    fid.step(50, 49.2, true, true, 50, 0.001);
    expect(fid.transfer_mw).toBeCloseTo(1, 9);
    fid.step(49.2, 50, true, true, 50, 0.001);
    expect(fid.transfer_mw).toBeCloseTo(-1, 9);
    fid.step(50, 49.2, true, false, 50, 0.001);
    expect(fid.transfer_mw).toBe(0);
    expect(fid.pA_mw).toBe(0);
  });
});
