import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario, parseGridTrace, parseScenario, ScenarioError } from './load.ts';
import { buildScenarioTwin, runScenario } from './runner.ts';

const FILE = join(process.cwd(), 'scenarios', 'inline.yaml');

function errorOf(text: string): ScenarioError {
  try {
    parseScenario(text, FILE);
  } catch (err) {
    if (err instanceof ScenarioError) return err;
    throw err;
  }
  throw new Error('expected a ScenarioError');
}

const base = `name: t
grid: ../grids/demo-33bw-microgrids.yaml
duration_s: 2
`;

describe('scenario validation errors name file, line and JSON path', () => {
  it('unknown top-level property', () => {
    const e = errorOf(`${base}colour: red\n`);
    expect(e.file).toBe(FILE);
    expect(e.line).toBe(4);
    expect(e.path).toBe('/colour');
    expect(e.message).toContain("unknown property 'colour'");
  });

  it('wrong type deep in an event', () => {
    const e = errorOf(`${base}events:\n  - { at: 1, action: load-step, bus: '14', delta_mw: lots }\n`);
    expect(e.line).toBe(5);
    expect(e.path).toBe('/events/0/delta_mw');
    expect(e.message).toMatch(/number/);
  });

  it('unknown event action lists the valid ones', () => {
    const e = errorOf(`${base}events:\n  - at: 1\n    action: explode\n`);
    expect(e.path).toBe('/events/0/action');
    expect(e.line).toBe(6);
    expect(e.message).toContain("unknown event action 'explode'");
    expect(e.message).toContain('load-step');
  });

  it('missing required assertion field', () => {
    const e = errorOf(`${base}assertions:\n  - { type: frequency-nadir, island: MG2 }\n`);
    expect(e.path).toBe('/assertions/0');
    expect(e.line).toBe(5);
    expect(e.message).toContain("missing required property 'min_hz'");
  });

  it('YAML syntax errors carry the line', () => {
    const e = errorOf(`${base}events: [\n  { at: 1\n`);
    expect(e.message).toContain('YAML syntax');
    expect(e.line).toBeGreaterThanOrEqual(4);
  });

  it('event after the end of the run', () => {
    const e = errorOf(`${base}events:\n  - { at: 9, action: emergency-stop }\n`);
    expect(e.path).toBe('/events/0/at');
    expect(e.line).toBe(5);
  });

  it('unknown ids are reported with the event line when the twin is built', async () => {
    const s = parseScenario(
      `${base}events:\n  - { at: 1, action: breaker, id: nope, closed: false }\n`,
      FILE,
    );
    await expect(buildScenarioTwin(s)).rejects.toMatchObject({ line: 5, path: '/events/0/id' });
  });

  it('a missing file is a clear error', async () => {
    await expect(loadScenario('/nonexistent/x.yaml')).rejects.toThrow(/cannot read scenario/);
  });
});

describe('main-grid traces', () => {
  it('parses t_s,f_hz,v_pu after comment lines, in any column order', () => {
    const t = parseGridTrace('# comment\nv_pu,t_s,f_hz\n1,0,50\n0.99,1,49.9\n', 'x.csv');
    expect(Array.from(t.t_s)).toEqual([0, 1]);
    expect(Array.from(t.f_hz)).toEqual([50, 49.9]);
    expect(Array.from(t.v_pu)).toEqual([1, 0.99]);
  });

  it('names file and line of a bad row, a missing column or non-increasing time', () => {
    expect(() => parseGridTrace('t_s,f_hz,v_pu\n0,50,1\n1,abc,1\n', 'x.csv')).toThrow(/x\.csv:3: trace row/);
    expect(() => parseGridTrace('t_s,f_hz\n0,50\n', 'x.csv')).toThrow(/x\.csv:1: .*missing v_pu/);
    expect(() => parseGridTrace('t_s,f_hz,v_pu\n1,50,1\n1,50,1\n', 'x.csv')).toThrow(
      /x\.csv:3: trace times must increase/,
    );
  });

  it('a scenario replays a trace as the main grid (grid-trace-replay)', async () => {
    const s = await loadScenario(join(process.cwd(), 'scenarios', 'grid-trace-replay.yaml'));
    s.duration_s = 12;
    s.assertions = [{ type: 'frequency-nadir', island: 'MG1', min_hz: 49.81 }];
    const r = await runScenario(s);
    // The trace's minimum before 12 s is 49.802 Hz at 9 s (by construction of the file).
    expect(r.passed).toBe(false);
    expect(r.assertions[0].detail).toMatch(/nadir 49\.80\d+ Hz at 9\.0/);
  });
});

describe('ieee1547-compliance assertion on hardware devices', () => {
  const sag = `name: sag
grid: ../grids/demo-33bw-microgrids.yaml
duration_s: 2
hardware: [{ id: inv-hw, bus: '4', rating_mva: 0.1 }]
events:
  - { at: 0.5, action: grid-voltage, shape: step, delta: -0.62, duration_s: 1 }
assertions:
  - { type: ieee1547-compliance }
`;
  it('fails when a device keeps injecting past the UV2 clearing time', async () => {
    const s = parseScenario(sag, FILE);
    const r = await runScenario(s, {
      inputs: () => [{ deviceId: 'inv-hw', p_mw: 0.05, q_mvar: 0, online: true }],
    });
    expect(r.passed).toBe(false);
    expect(r.assertions[0].detail).toMatch(/inv-hw still injecting .* after UV2/);
  });

  it('passes when the device ceases to energise in time and stays off (no early re-entry)', async () => {
    const s = parseScenario(sag, FILE);
    let ceased = false;
    const r = await runScenario(s, {
      inputs: (twin) => {
        if (twin.measurementFor('inv-hw').vm_pu < 0.45) ceased = true;
        return [{ deviceId: 'inv-hw', p_mw: ceased ? 0 : 0.05, q_mvar: 0, online: true }];
      },
    });
    expect(r.assertions[0].detail).toContain('compliant');
    expect(r.passed).toBe(true);
  });
});

describe('shipped scenarios', () => {
  const dir = join(process.cwd(), 'scenarios');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

  it('there are at least 10 and all validate', async () => {
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const f of files) {
      const s = await loadScenario(join(dir, f));
      expect(s.assertions.length, f).toBeGreaterThan(0);
    }
  });

  it('a short scenario runs and its assertions pass (mg2 load step, shortened)', async () => {
    const s = await loadScenario(join(dir, 'mg2-load-step.yaml'));
    s.duration_s = 30;
    const r = await runScenario(s);
    expect(r.assertions.map((a) => [a.name, a.passed, a.detail]).filter((a) => !a[1])).toEqual([]);
    expect(r.passed).toBe(true);
  });

  // Every shipped scenario is run in full by shipped.test.ts (and day-24h-ems.test.ts).

  it('mg1-planned-islanding-resync: planned islanding, then reconnection under synchro-check (5 ms steps)', async () => {
    const r = await runScenario(await loadScenario(join(dir, 'mg1-planned-islanding-resync.yaml')), {
      dt_s: 0.005,
    });
    expect(r.assertions.filter((a) => !a.passed)).toEqual([]);
    const reconnect = r.assertions.find((a) => a.type === 'event-occurs' && a.name.includes('reconnected'))!;
    // Synchro-check windows: |Δf| ≤ 0.1 Hz, |ΔV| ≤ 0.05 pu, |Δθ| ≤ 10°.
    const [, df, dv, dth] = /Δf ([\d.]+) Hz, ΔV ([\d.]+) pu, Δθ ([\d.]+)°/
      .exec(reconnect.detail)!
      .map(Number);
    expect(df).toBeLessThanOrEqual(0.1);
    expect(dv).toBeLessThanOrEqual(0.05);
    expect(dth).toBeLessThanOrEqual(10);
  });

  it('a failing assertion fails the run (nadir limit above the real nadir)', async () => {
    const s = await loadScenario(join(dir, 'mg2-load-step.yaml'));
    s.duration_s = 8;
    s.assertions = [{ type: 'frequency-nadir', island: 'MG2', min_hz: 49.95 }];
    const r = await runScenario(s);
    expect(r.passed).toBe(false);
    expect(r.assertions[0].detail).toMatch(/nadir 49\.\d+ Hz/);
  });
});

describe('hostile scenario files are input errors (issue 17)', () => {
  it.each([
    ['duration_s: .inf', base.replace('duration_s: 2', 'duration_s: .inf'), '/duration_s', 3],
    [
      'an event step of -.inf',
      `${base}events:\n  - { at: 1, action: load-step, bus: '14', delta_mw: -.inf }\n`,
      '/events/0/delta_mw',
      5,
    ],
    [
      'an event time of -.inf',
      `${base}events:\n  - { at: -.inf, action: load-step, bus: '14', delta_mw: 0.1 }\n`,
      '/events/0/at',
      5,
    ],
    [
      'an assertion bound of .inf',
      `${base}assertions:\n  - { type: frequency-nadir, min_hz: .inf }\n`,
      '/assertions/0/min_hz',
      5,
    ],
    [
      'an assertion bound of .nan',
      `${base}assertions:\n  - { type: rocof-max, max_hz_s: .nan }\n`,
      '/assertions/0/max_hz_s',
      5,
    ],
  ])('%s is refused with file:line and path', (_what, text, path, line) => {
    const e = errorOf(text);
    expect(e.path).toBe(path);
    expect(e.line).toBe(line);
    expect(e.message).toMatch(/must be finite/);
  });

  it('a window that starts after the run ends is refused, not passed as Infinity..-Infinity', () => {
    const e = errorOf(
      `${base}assertions:\n  - { type: voltage-range, min_pu: 0.9, max_pu: 1.1, after: 5 }\n`,
    );
    expect(e.path).toBe('/assertions/0/after');
    expect(e.line).toBe(5);
    expect(e.message).toContain('after the end of the run');
  });

  it('a window that holds no sample at run time fails as "checked nothing", never passes', async () => {
    // The loader refuses such windows; a run cut shorter than its file (as --dt or a player may
    // do) must still not turn an empty window into a pass.
    const s = parseScenario(
      `${base}dt_s: 0.01\nassertions:\n  - { type: voltage-range, min_pu: 0.9, max_pu: 1.1, after: 1 }\n  - { type: rocof-max, island: bus-1, max_hz_s: 1, after: 1 }\n`,
      FILE,
    );
    s.duration_s = 0.05;
    const result = await runScenario(s);
    expect(result.assertions.map((a) => [a.passed, a.value])).toEqual([
      [false, 'nothing checked'],
      [false, 'nothing checked'],
    ]);
    expect(result.passed).toBe(false);
  });

  it('an assertion naming an unknown island is an input error (exit 2), not a failed assertion', async () => {
    const s = parseScenario(
      `${base}assertions:\n  - { type: frequency-nadir, island: NOPE, min_hz: 49 }\n`,
      FILE,
    );
    const e = await buildScenarioTwin(s).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ScenarioError);
    expect((e as ScenarioError).path).toBe('/assertions/0/island');
    expect((e as ScenarioError).line).toBe(5);
    expect((e as ScenarioError).message).toContain("unknown island 'NOPE'");
  });

  it('islands joined while connected, and bus-named islands, are known', async () => {
    const s = parseScenario(
      `${base}assertions:\n  - { type: frequency-nadir, island: MG1+MG3, min_hz: 49 }\n  - { type: rocof-max, island: bus-1, max_hz_s: 9 }\n`,
      FILE,
    );
    await expect(buildScenarioTwin(s)).resolves.toBeDefined();
  });

  it('duplicate hardware ids are refused', () => {
    const e = errorOf(`${base}hardware:\n  - { id: inv1, bus: '14' }\n  - { id: inv1, bus: '15' }\n`);
    expect(e.path).toBe('/hardware/1/id');
    expect(e.line).toBe(6);
  });

  it('a YAML alias bomb is refused with a line, not expanded', () => {
    const levels = ['a0: &a0 [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 10; i++)
      levels.push(
        `a${i}: &a${i} [${Array(9)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      );
    const e = errorOf(`${base}${levels.join('\n')}\n`);
    expect(e.message).toContain('too many YAML aliases');
    expect(e.line).toBe(5);
  });

  it('a 200,000-character grid path is echoed cut, not whole', async () => {
    const s = parseScenario(`name: t\ngrid: ${'a'.repeat(200_000)}.yaml\nduration_s: 1\n`, FILE);
    const e = await buildScenarioTwin(s).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(e).toBeInstanceOf(ScenarioError);
    expect(e!.message.length).toBeLessThan(1000);
    expect(e!.message).toMatch(/…a+\.yaml \(\d+ characters\)/);
  });
});
