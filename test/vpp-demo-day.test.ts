/**
 * The shipped demo-day VPP scenario (scenarios/vpp-demo-day.yaml), run in full as `gridloop
 * simulate` runs it (about 40 s of CPU: a day at 100 ms steps): the VPP over MG1's units, consensus
 * at 20 % message loss, bidding the demo day-ahead prices. It passes its own assertions — its target
 * energy within 2 % over the day, every re-dispatch converged within 500 rounds — and the tracking
 * figure is measured here again from the recorded state, independently of the scenario's tracker.
 */
import { describe, expect, it } from 'vitest';
import { simulateRecorded } from '../bench/recording/simulate-run.ts';
import { loadScenario } from '../twin/scenario/load.ts';
import { budget } from './support/machine-speed.ts';

const MEMBERS = ['chp-4', 'pv-24', 'wind-22', 'fc-20', 'bess-25'];

describe('vpp-demo-day', { timeout: budget(900_000) }, () => {
  it('delivers its target energy within 2 % over the day; consensus within 500 rounds at 20 % loss', async () => {
    const s = await loadScenario('scenarios/vpp-demo-day.yaml');
    let delivered_mwh = 0;
    let steps = 0;
    const { result } = await simulateRecorded(s, {
      dt_s: s.dt_s,
      every_s: 60,
      onStep(state) {
        steps++;
        if (state.t_s <= 60) return;
        let p = 0;
        for (const id of MEMBERS) p += state.devices[id]!.p_mw;
        delivered_mwh += (p * s.dt_s) / 3600;
      },
    });
    expect(result.assertions.filter((a) => !a.passed).map((a) => `${a.name}: ${a.detail}`)).toEqual([]);
    expect(steps).toBe(864_000);
    const [tracking, convergence] = result.assertions;
    // The tracker's delivered energy is what the twin measured (summed here the same way).
    const reported = Number(/delivered ([\d.]+) MWh/.exec(tracking!.detail)![1]);
    expect(reported).toBeCloseTo(delivered_mwh, 2);
    expect(Math.abs(tracking!.value as number)).toBeLessThanOrEqual(2);
    expect(convergence!.detail).toMatch(
      /^\d+ re-dispatches at ≥ 20 % message loss: at most \d+ rounds \(limit 500\)/,
    );
    expect(convergence!.value as number).toBeLessThanOrEqual(500);
  });
});
