/**
 * The 24-hour scenario, run as fast as the twin goes (about 30 s of CPU at 100 ms steps): it
 * passes its own assertions, and MG1's peak shaving meets issue 16's acceptance figures, measured
 * here from 10 s samples independently of the scenario's trackers: import ≤ 1.02 × 1.2 MW in at
 * least 99 % of the samples, and no cycle shorter than 10 minutes in the battery's set-point
 * (before the fix: 1,077 samples above 1.224 MW, max 1.725 MW, the set-point reversing every 60 s).
 */

import { describe, expect, it } from 'vitest';
import { budget } from '../../test/support/machine-speed.ts';
import { shortCycles } from '../dynamics/short-cycles.ts';
import { loadScenario } from './load.ts';
import { runScenario } from './runner.ts';

describe('day-24h-ems', { timeout: budget(900_000) }, () => {
  it('passes; MG1 holds 1.2 MW within 2 % in ≥ 99 % of samples; bess-25 set-point without cycles under 10 min', async () => {
    const s = await loadScenario('scenarios/day-24h-ems.yaml');
    const every = Math.round(10 / s.dt_s);
    const imports: number[] = [];
    const setpoints: number[] = [];
    const result = await runScenario(s, {
      onStep(state, twin) {
        if (state.step % every !== 0) return;
        imports.push(state.microgrids!.MG1.pcc_p_mw);
        setpoints.push(twin.unitById.get('bess-25')!.reference_mw);
      },
    });
    expect(result.assertions.filter((a) => !a.passed).map((a) => `${a.name}: ${a.detail}`)).toEqual([]);
    expect(imports.length).toBe(8640);

    const limit = 1.2;
    const held = imports.filter((p) => p <= 1.02 * limit).length / imports.length;
    expect(held).toBeGreaterThanOrEqual(0.99);
    expect(shortCycles(setpoints, 10, 0.02 * limit, 600)).toEqual([]);
    // The battery did the shaving: it discharged through the evening and recharged at night.
    expect(Math.max(...setpoints)).toBeGreaterThan(0.4);
    expect(Math.min(...setpoints)).toBeLessThan(-0.3);
  });
});
