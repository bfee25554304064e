/**
 * Planned islanding on the demo grid, started where a live bench would start it: after the run
 * has been going for a while, not at t = 0. At 80 s the demo MG1 imports 1.14 MW and needs every
 * dispatchable unit (CHP 0.6 MW, battery 0.5 MW, fuel cell 0.2 MW) to take that over; the planned
 * islanding used to leave the fuel cell out and wind the others' references up past their
 * ratings, and MG1 never islanded within the 30 s timeout (the classroom scenario failed 4 of 6
 * assertions live while passing from t = 0 in `simulate`).
 */
import { describe, expect, it } from 'vitest';
import type { TwinEvent } from '../api.ts';
import { loadScenario } from '../scenario/load.ts';
import { ScenarioPlayer } from '../scenario/player.ts';
import { playAfter } from '../scenario/start-sweep.ts';
import { Twin } from '../twin.ts';

const GRID = 'grids/demo-33bw-microgrids.yaml';
const DT = 0.005;
/** Where the run is when the command comes (see the header). */
const STARTED_AFTER_S = 80;

async function twinAfter(seconds: number): Promise<Twin> {
  const twin = await Twin.fromFiles({ grid: GRID, seed: 1, dt_s: DT });
  for (let i = 0; i < Math.round(seconds / DT); i++) twin.step([]);
  return twin;
}

describe('planned islanding of the demo MG1, started mid-run', () => {
  it('islands within 3 s of the command with the exchange under the threshold, no reference past its unit rating, and the classroom scenario passes', {
    timeout: 120_000,
  }, async () => {
    const twin = await twinAfter(STARTED_AFTER_S);
    const mg1 = () => twin.islandRuntimes.find((r) => r.microgrids.includes('MG1'))!;
    expect(mg1().pccImport_mw).toBeGreaterThan(1);
    const player = new ScenarioPlayer(await loadScenario('scenarios/island-transition.yaml'), twin);
    const events: TwinEvent[] = [];
    let verdict: ReturnType<ScenarioPlayer['observe']>;
    let beyondRating = 0;
    while (!verdict) {
      player.scheduleDue(twin);
      const state = twin.step([]);
      events.push(...state.events.map((e) => ({ ...e, t_s: e.t_s - STARTED_AFTER_S })));
      if (twin.planned) {
        for (const u of mg1().emsUnits) {
          if (u.dispatchable && u.reference_mw > u.pmax_mw + 1e-9) beyondRating++;
        }
      }
      verdict = player.observe(state, twin);
    }
    const requested = events.find((e) => e.kind === 'islanding-requested')!;
    const islanded = events.find((e) => e.kind === 'islanded')!;
    expect(islanded.t_s - requested.t_s).toBeLessThan(3);
    // The exchange the breaker opened at, from its event: within the 0.05 MW threshold.
    expect(Math.abs(Number(/exchange (-?[\d.]+) MW/.exec(islanded.message)![1]))).toBeLessThanOrEqual(0.05);
    expect(beyondRating).toBe(0);
    expect(verdict.assertions.filter((a) => !a.passed).map((a) => `${a.name}: ${a.detail}`)).toEqual([]);
  });

  it('a reconnect command while the islanding is under way calls it off: MG1 stays on the grid', async () => {
    const twin = await twinAfter(5);
    twin.command({ kind: 'island', microgrid: 'MG1', islanded: true });
    twin.step([]);
    const cancelled = twin.command({ kind: 'island', microgrid: 'MG1', islanded: false });
    expect(cancelled.kind).toBe('islanding-cancelled');
    const later: TwinEvent[] = [];
    for (let i = 0; i < Math.round(5 / DT); i++) later.push(...twin.step([]).events);
    expect(later.filter((e) => e.kind === 'islanded')).toEqual([]);
    expect(twin.step([]).microgrids?.MG1?.islanded).toBe(false);
  });

  // Start times where the classroom scenario missed its reconnection window before the active
  // synchroniser (npm run bench:islanding-sweep over 0, 10, … 180 s: 110, 130 and 170 s failed).
  // The synchroniser crept toward zero slip there while the wind's noise and a tertiary
  // re-dispatch moved the island's frequency by more than the slip it asked for.
  for (const start of [110, 130]) {
    it(`started ${start} s into the run, MG1 reconnects inside the scenario's window, within synchro-check`, {
      timeout: 120_000,
    }, async () => {
      const { verdict, events } = await playAfter('scenarios/island-transition.yaml', start, { dt_s: DT });
      const reconnected = events.find((e) => e.kind === 'reconnected');
      expect(reconnected, events.map((e) => `${e.t_s.toFixed(2)} ${e.kind}`).join('\n')).toBeDefined();
      // The synchro-check limits of docs/twin.md: |Δf| ≤ 0.1 Hz, |ΔV| ≤ 0.05 pu, |Δθ| ≤ 10°.
      const [, df, dv, dth] = /Δf (\S+) Hz, ΔV (\S+) pu, Δθ (\S+)°/.exec(reconnected!.message)!.map(Number);
      expect(df).toBeLessThanOrEqual(0.1);
      expect(dv).toBeLessThanOrEqual(0.05);
      expect(dth).toBeLessThanOrEqual(10);
      expect(verdict.assertions.filter((a) => !a.passed).map((a) => `${a.name}: ${a.detail}`)).toEqual([]);
    });
  }
});
