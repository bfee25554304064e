/**
 * A scenario's VPP inside `gridloop simulate`: its telemetry recorded in the run folder as the live
 * bench records it (`vpp`, `vpp_member`), checked against the twin's own state.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openScenarioRun } from '../bench/cli/scenario-run.ts';
import { readRunPoints } from '../bench/recording/read-run.ts';
import { simulateRecorded } from '../bench/recording/simulate-run.ts';
import type { TwinState } from '../twin/api.ts';
import { loadScenario } from '../twin/scenario/load.ts';
import { budget } from './support/machine-speed.ts';

const root = join(import.meta.dirname, '..');
const GRID = join(root, 'grids/demo-33bw-microgrids.yaml');
const MG1 = join(root, 'vpp/portfolios/mg1.yaml');
const MEMBERS = ['chp-4', 'pv-24', 'wind-22', 'fc-20', 'bess-25'];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gridloop-vpp-simulate-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the scenario text recorded into `dir/<name>`; returns the run folder and every state's copy. */
async function simulateText(name: string, text: string) {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, text);
  const scenario = await loadScenario(file);
  const states = new Map<number, Record<string, number>>();
  const out = join(dir, `run-${name}`);
  const run = await simulateRecorded(scenario, {
    dt_s: scenario.dt_s,
    every_s: 1,
    out,
    open: () =>
      openScenarioRun('simulate', dir, {
        scenario,
        file,
        dt_s: scenario.dt_s,
        devices: [],
        loop: { devices: [], runner: 'simulate' },
      }),
    onStep: (s: TwinState) =>
      states.set(
        Math.round(s.t_s * 1000),
        Object.fromEntries(MEMBERS.map((id) => [id, s.devices[id]!.p_mw])),
      ),
  });
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { start_ns: string };
  return { run, out, states, start_ns: BigInt(manifest.start_ns) };
}

describe('VPP telemetry in gridloop simulate', { timeout: budget(120_000) }, () => {
  it('records a vpp point per decision and a vpp_member point per member; target and delivered agree with the twin', async () => {
    const { run, out, states, start_ns } = await simulateText(
      'telemetry',
      `name: vpp-telemetry
grid: ${GRID}
seed: 3
dt_s: 0.1
duration_s: 60
startHour: 12
vpp:
  portfolio: ${MG1}
  structure: central
  period_s: 10
  target: { profile_mw: [0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8] }
`,
    );
    expect(run.verdict.passed).toBe(true);
    const points = await readRunPoints(out);
    const vpp = points.filter((p) => p.measurement === 'vpp');
    const members = points.filter((p) => p.measurement === 'vpp_member');
    // Decisions every 10 s of a 60 s run.
    expect(vpp.length).toBeGreaterThanOrEqual(5);
    expect(vpp.length).toBeLessThanOrEqual(7);
    expect(members.length).toBe(vpp.length * MEMBERS.length);
    let checked = 0;
    for (const p of vpp) {
      const at_ms = Math.round(Number(p.time_ns - start_ns) / 1e6);
      expect(p.tags.vpp).toBe('mg1');
      // The scenario's target at 12:xx.
      expect(p.fields.target_mw).toBe(0.9);
      expect(p.fields.ok).toBe(true);
      // Delivered: the members' outputs in the twin's state the decision was made on.
      const state = states.get(at_ms);
      if (!state) continue;
      checked++;
      const sum = MEMBERS.reduce((s, id) => s + state[id]!, 0);
      expect(p.fields.delivered_mw as number).toBeCloseTo(sum, 9);
      for (const id of MEMBERS) {
        const m = members.find((x) => x.time_ns === p.time_ns && x.tags.member === id)!;
        expect(m.fields.measured_mw as number).toBeCloseTo(state[id]!, 9);
      }
    }
    expect(checked).toBeGreaterThanOrEqual(5);
    // The set-points add up to the target, and the twin follows them: at the last decision, what
    // the members deliver is the target within 1 %.
    const last = vpp.at(-1)!;
    const setpoints = members
      .filter((m) => m.time_ns === last.time_ns)
      .reduce((s, m) => s + (m.fields.setpoint_mw as number), 0);
    expect(setpoints).toBeCloseTo(0.9, 6);
    expect(Math.abs((last.fields.delivered_mw as number) - 0.9)).toBeLessThan(0.009);
  });
});
