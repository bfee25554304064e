/**
 * The assertion kinds that judge powers and set-points (power-range, no-oscillation,
 * load-served, event-occurs min_count): each passes on what it should and fails on what it
 * should, on short runs of the demo system whose answers are set by the script itself.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario, parseScenario } from './load.ts';
import { runScenario } from './runner.ts';

const scenarioOf = (text: string) => parseScenario(text, resolve('scenarios/assertions-check.yaml'));

/**
 * bess-25 (MG1, grid-connected, EMS stand-alone so it keeps its set-point) is commanded by the
 * script: `setpoints` at 30 s, 90 s, 150 s, … (one every minute).
 */
function commanded(setpoints: number[], assertions: string[]) {
  return scenarioOf(`
name: assertions-check
grid: ../grids/demo-33bw-microgrids.yaml
seed: 1
dt_s: 0.1
duration_s: ${30 + 60 * setpoints.length}
initial: { ems: { MG1: stand-alone } }
events:
${setpoints.map((p, k) => `  - { at: ${30 + 60 * k}, action: setpoint, device: bess-25, p_mw: ${p} }`).join('\n')}
assertions:
${assertions.map((a) => `  - ${a}`).join('\n')}
`);
}

const outcomes = async (s: ReturnType<typeof scenarioOf>) =>
  Object.fromEntries((await runScenario(s)).assertions.map((a) => [a.name, a]));

describe('no-oscillation', () => {
  it('fails on a set-point toggling every minute (a 2-minute limit cycle), passes on a ramp and hold', async () => {
    const toggling = await outcomes(
      commanded(
        [0.3, 0, 0.3, 0, 0.3, 0, 0.3, 0],
        ['{ type: no-oscillation, name: osc, unit: bess-25, swing_mw: 0.1, min_period_s: 600 }'],
      ),
    );
    expect(toggling.osc.passed).toBe(false);
    // Turns at 30 s (up to 0.3), 90 s, 150 s … : 6 half-cycles of 60 s after the first turn.
    expect(toggling.osc.value).toBe(6);
    expect(toggling.osc.detail).toContain('shortest 60.0 s');

    const ramp = await outcomes(
      commanded(
        [0.1, 0.2, 0.3, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.2, 0],
        ['{ type: no-oscillation, name: osc, unit: bess-25, swing_mw: 0.1, min_period_s: 600 }'],
      ),
    );
    // One turn (at 0.4 MW), no cycle.
    expect(ramp.osc.passed).toBe(true);
    expect(ramp.osc.value).toBe(0);
  });

  it('a toggle smaller than the swing is not a cycle', async () => {
    const small = await outcomes(
      commanded(
        [0.05, 0, 0.05, 0, 0.05, 0],
        ['{ type: no-oscillation, name: osc, unit: bess-25, swing_mw: 0.1 }'],
      ),
    );
    expect(small.osc.passed).toBe(true);
  });
});

describe('power-range', () => {
  it('counts the share of steps inside the range: a unit output, a PCC import', async () => {
    // 0.3 MW from 30 s to 90 s and from 150 s to 210 s of 270 s: 120 s of 270 s at 0.3 MW.
    const r = await outcomes(
      commanded(
        [0.3, 0, 0.3, 0],
        [
          '{ type: power-range, name: some, unit: bess-25, min_mw: 0.29, fraction: 0.4 }',
          '{ type: power-range, name: most, unit: bess-25, min_mw: 0.29, fraction: 0.5 }',
          '{ type: power-range, name: window, unit: bess-25, min_mw: 0.29, after: 35, until: 85 }',
          '{ type: power-range, name: import, microgrid: MG1, min_mw: 0, max_mw: 2 }',
          '{ type: power-range, name: no-import, microgrid: MG1, max_mw: 0 }',
        ],
      ),
    );
    expect(r.some.passed).toBe(true);
    expect(r.most.passed).toBe(false);
    expect(r.most.value).toBeGreaterThan(120 / 270 - 0.01);
    expect(r.most.value).toBeLessThan(120 / 270 + 0.01);
    expect(r.window.passed).toBe(true);
    expect(r.import.passed).toBe(true);
    expect(r['no-import'].passed).toBe(false);
    expect(r['no-import'].detail).toContain('MG1 PCC import');
  });

  it('needs exactly one of microgrid, unit, fid, each existing', async () => {
    await expect(runScenario(commanded([0], ['{ type: power-range, max_mw: 1 }']))).rejects.toThrow(
      /assertions-check\.yaml:\d+ \(at \/assertions\/0\/type\): power-range needs exactly one of microgrid, unit or fid/,
    );
    await expect(
      runScenario(commanded([0], ['{ type: power-range, microgrid: MG9, max_mw: 1 }'])),
    ).rejects.toThrow(/\/assertions\/0\/microgrid\): unknown microgrid 'MG9'/);
    await expect(
      runScenario(commanded([0], ['{ type: power-range, fid: fid-9, max_mw: 1 }'])),
    ).rejects.toThrow(/unknown FID 'fid-9'/);
  });
});

describe('load-served and event-occurs min_count', () => {
  it('in mg3-overload-ufls: the first-stage load is shed, critical load-30 is not; UFLS acts in two stages, not three', async () => {
    const s = await loadScenario('scenarios/mg3-overload-ufls.yaml');
    s.duration_s = 5;
    s.assertions = [
      { type: 'load-served', name: 'load-26', load: 'load-26' },
      { type: 'load-served', name: 'load-30', load: 'load-30' },
      { type: 'event-occurs', name: 'two', kind: 'ufls', target: 'MG3', min_count: 2 },
      { type: 'event-occurs', name: 'three', kind: 'ufls', target: 'MG3', min_count: 3 },
    ];
    const r = Object.fromEntries((await runScenario(s)).assertions.map((a) => [a.name, a]));
    expect(r['load-26'].passed).toBe(false);
    expect(r['load-26'].detail).toMatch(/load-26 disconnected at 3\.\d+ s/);
    expect(r['load-30'].passed).toBe(true);
    expect(r.two.passed).toBe(true);
    expect(r.three.passed).toBe(false);
  });
});
