import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { executeRun, type RunResult } from './execute.ts';
import { CampaignError, parseCampaign } from './load.ts';

const fixtures = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'campaigns');
const file = join(fixtures, 'test-campaign.yaml');

async function error(text: string): Promise<CampaignError> {
  try {
    await parseCampaign(text, file);
  } catch (err) {
    if (err instanceof CampaignError) return err;
    throw err;
  }
  throw new Error('expected a CampaignError');
}

const head = `name: t
scenarios: [short-load-step.yaml]
`;

describe('campaign files', () => {
  it('expands base scenario × axes into runs, first axis outermost, each scenario patched by its path', async () => {
    const c = await parseCampaign(
      `${head}set: { /duration_s: 2 }
axes:
  - { name: load_mw, path: /events/0/delta_mw, values: [0.1, 0.4] }
  - { path: /events/0/at, range: { from: 0.2, to: 0.4, step: 0.1 } }
  - { seeds: [7, 8] }
collect: [frequency-nadir, { figure: voltage-min, island: MG2 }]
`,
      file,
    );
    expect(c.runs).toHaveLength(2 * 3 * 2);
    expect(c.columns).toEqual(['load_mw', 'events.0.at', 'seed']);
    expect(c.figureColumns).toEqual(['frequency-nadir', 'voltage-min.MG2']);
    // 0.2 + k·0.1 reads as the decimal the user wrote, not 0.30000000000000004.
    expect(c.runs.slice(0, 6).map((r) => r.params)).toEqual([
      { load_mw: 0.1, 'events.0.at': 0.2, seed: 7 },
      { load_mw: 0.1, 'events.0.at': 0.2, seed: 8 },
      { load_mw: 0.1, 'events.0.at': 0.3, seed: 7 },
      { load_mw: 0.1, 'events.0.at': 0.3, seed: 8 },
      { load_mw: 0.1, 'events.0.at': 0.4, seed: 7 },
      { load_mw: 0.1, 'events.0.at': 0.4, seed: 8 },
    ]);
    const last = c.runs[11]!;
    expect(last.scenario).toMatchObject({ duration_s: 2, seed: 8 });
    expect((last.scenario.events as { at: number; delta_mw: number }[])[0]).toMatchObject({
      at: 0.4,
      delta_mw: 0.4,
    });
    // The grid travels with the run: no link to the coordinator's disk.
    expect(last.scenario.grid).toBe('demo-33bw-microgrids.yaml');
    expect(last.files['demo-33bw-microgrids.yaml']).toMatch(/buses/);
    // Ids: unique, from campaign and parameters only (BullMQ job ids must not hold ':').
    const ids = c.runs.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9._-]+$/);
    const again = await parseCampaign(
      `${head}set: { /duration_s: 2 }
axes:
  - { name: load_mw, path: /events/0/delta_mw, values: [0.1, 0.4] }
  - { path: /events/0/at, range: { from: 0.2, to: 0.4, count: 3 } }
  - { seeds: [7, 8] }
`,
      file,
    );
    expect(again.runs.map((r) => r.id)).toEqual(ids);
  });

  it('variants set several values per point (an attack variant, a fault with its clearing time)', async () => {
    const c = await parseCampaign(
      `${head}axes:
  - name: step
    variants:
      - { name: small, set: { /events/0/delta_mw: 0.05, /events/0/at: 0.3 } }
      - { name: large, set: { /events/0/delta_mw: 0.3 } }
`,
      file,
    );
    expect(c.runs.map((r) => r.params)).toEqual([{ step: 'small' }, { step: 'large' }]);
    expect((c.runs[0]!.scenario.events as { at: number }[])[0]!.at).toBe(0.3);
  });

  it('names file and line of an unknown parameter path, with what the scenario has there', async () => {
    const e1 = await error(`${head}axes:
  - { path: /events/3/at, values: [1] }
`);
    expect(e1.message).toMatch(/test-campaign\.yaml:4: unknown parameter path \/events\/3\/at/);
    expect(e1.message).toContain('a list of 1, index 0…0');
    const e2 = await error(`${head}axes:
  - { path: /evnts/0/at, values: [1] }
`);
    expect(e2.message).toMatch(/:4: unknown parameter path \/evnts\/0\/at.*did you mean 'events'/);
    const e3 = await error(`${head}axes:
  - { path: /colour, values: [red] }
`);
    expect(e3.message).toMatch(
      /:4: unknown parameter path \/colour: the scenario format has no such property/,
    );
  });

  it('refuses an empty axis, naming its line and what to do', async () => {
    const e = await error(`${head}axes:
  - { path: /seed, values: [1] }
  - { path: /events/0/delta_mw, values: [] }
`);
    expect(e.message).toMatch(
      /:5: axis \/events\/0\/delta_mw is empty \(values: \[\]\).*give it at least one value or remove it/,
    );
    const r = await error(`${head}axes:
  - { path: /events/0/at, range: { from: 1, to: 0, step: 0.1 } }
`);
    expect(r.message).toMatch(/:4: .*is empty \(range from 1 to 0 holds no value\)/);
  });

  it('refuses a value of the wrong type at the line of that value', async () => {
    const e = await error(`${head}axes:
  - path: /events/0/delta_mw
    values:
      - 0.1
      - lots
`);
    expect(e.message).toMatch(
      /:7: value "lots" for \/events\/0\/delta_mw is not valid .*must be number \(run events\.0\.delta_mw=lots\)/,
    );
  });

  it('refuses more runs than max_runs, saying what the axes multiply to', async () => {
    const e = await error(`${head}max_runs: 5
axes:
  - { path: /events/0/delta_mw, values: [0.1, 0.2, 0.3] }
  - { seeds: 2 }
`);
    expect(e.message).toMatch(
      /:3: the axes multiply to 3 × 2 = 6 runs, more than max_runs \(5\); remove values or raise max_runs/,
    );
  });

  it('names bad structure: unknown keys, a malformed axis, a pass criterion on a figure not collected', async () => {
    expect((await error(`${head}colect: [rocof-max]\n`)).message).toMatch(
      /:3: \/colect: unknown property 'colect'/,
    );
    expect((await error(`${head}axes:\n  - { path: /seed }\n`)).message).toMatch(
      /:4: an axis needs exactly one of: path with values/,
    );
    expect(
      (await error(`${head}collect: [rocof-max]\npass: { figures: { rocof-mx: { max: 2 } } }\n`)).message,
    ).toMatch(
      /:4: pass criterion on 'rocof-mx', which is not collected \(collected: rocof-max\); did you mean 'rocof-max'\?/,
    );
    expect((await error('name: t\nscenarios: [nope.yaml]\n')).message).toMatch(
      /:2: cannot read scenario 'nope\.yaml' \(ENOENT\)/,
    );
  });
});

describe('shipped campaigns', () => {
  it('axes address the YAML grid with grid# pointers: each run carries its patched grid, validated before anything runs', async () => {
    const c = await parseCampaign(
      `${head}set: { grid#/ders/7/params/soc0: 0.7 }
axes:
  - { path: grid#/ders/7/inService, values: [true, false] }
  - name: diesel
    variants:
      - { name: small, set: { grid#/ders/5/rating_mva: 0.8, grid#/ders/5/params/rating_mw: 0.6 } }
`,
      file,
    );
    expect(c.columns).toEqual(['grid.ders.7.inService', 'diesel']);
    const grids = c.runs.map((r) => JSON.parse(r.files['demo-33bw-microgrids.yaml']!));
    expect(grids.map((g) => [g.ders[7].id, g.ders[7].inService, g.ders[7].params.soc0])).toEqual([
      ['bess-10', true, 0.7],
      ['bess-10', false, 0.7],
    ]);
    expect(grids[1].ders[5]).toMatchObject({ id: 'diesel-7', rating_mva: 0.8, params: { rating_mw: 0.6 } });
    // The scenario still names the grid by file name: the worker writes the patched text there.
    expect(c.runs[0]!.scenario.grid).toBe('demo-33bw-microgrids.yaml');
    expect(c.runs[0]!.specHash).not.toBe(c.runs[1]!.specHash);
    expect(new Set(c.runs.map((r) => r.id)).size).toBe(2);

    const unknown = await error(`${head}axes:
  - { path: grid#/dres/7/inService, values: [false] }
`);
    expect(unknown.message).toMatch(
      /test-campaign\.yaml:4: unknown parameter path grid#\/dres\/7\/inService: grid 'demo-33bw-microgrids\.yaml' \(of scenario 'short-load-step\.yaml'\) has no 'dres' at \/ \(it has .*ders, fids/,
    );
    const index = await error(`${head}axes:
  - { path: grid#/ders/99/p_mw, values: [0.1] }
`);
    expect(index.message).toMatch(
      /:4: unknown parameter path grid#\/ders\/99\/p_mw: .*a list of 1\d, index 0…1\d/,
    );
    const wrongType = await error(`${head}axes:
  - path: grid#/ders/7/rating_mva
    values:
      - 0.5
      - lots
`);
    expect(wrongType.message).toMatch(
      /test-campaign\.yaml:7: value "lots" for grid#\/ders\/7\/rating_mva makes grid 'demo-33bw-microgrids\.yaml' invalid at \/ders\/7\/rating_mva: .*\(run grid\.ders\.7\.rating_mva=lots\)/,
    );
    const dir = await mkdtemp(join(tmpdir(), 'gridloop-campaign-load-'));
    const scenario = join(dir, 'm.yaml');
    await writeFile(
      scenario,
      `name: m\ngrid: ${join(fixtures, '..', '..', '..', 'grids', 'matpower', 'case14.m')}\ndt_s: 0.01\nduration_s: 1\n`,
    );
    const matpower = await error(`name: t\nscenarios: [${scenario}]\nset: { grid#/bus/0: 1 }\n`).finally(() =>
      rm(dir, { recursive: true, force: true }),
    );
    expect(matpower.message).toMatch(
      /:3: grid#\/bus\/0 addresses the grid file, but .* a MATPOWER case: grid parameters need a YAML grid/,
    );
  });

  it('a run executes its patched grid: MG2 without its grid-forming battery sags further under the same load step', async () => {
    const c = await parseCampaign(
      `${head}axes:\n  - { name: bess10, path: grid#/ders/7/inService, values: [true, false] }\ncollect: [{ figure: frequency-nadir, island: MG2 }]\n`,
      file,
    );
    const dir = await mkdtemp(join(tmpdir(), 'gridloop-campaign-grid-'));
    try {
      const [withBess, without] = await Promise.all(c.runs.map((r) => executeRun(r, dir, c.figureColumns)));
      expect(withBess!.status).not.toBe('error');
      expect(without!.status).not.toBe('error');
      // The grid the run was given is the one it ran, kept beside its run folder.
      const ran = JSON.parse(
        await readFile(join(dir, 'runs', `${without!.id}.inputs`, 'demo-33bw-microgrids.yaml'), 'utf8'),
      );
      expect(ran.ders[7]).toMatchObject({ id: 'bess-10', inService: false });
      // Fewer droop units share the 0.2 MW step: a larger frequency deviation (droop, Δf ∝ ΔP / Σ gains).
      const nadir = (r: RunResult) => r.figures['frequency-nadir.MG2']!;
      expect(50 - nadir(without!)).toBeGreaterThan(1.2 * (50 - nadir(withBess!)));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('every campaign in campaigns/ loads and expands', async () => {
    const { readdir } = await import('node:fs/promises');
    const dir = join(import.meta.dirname, '..', '..', 'campaigns');
    const { loadCampaign } = await import('./load.ts');
    for (const name of (await readdir(dir)).filter((n) => n.endsWith('.yaml'))) {
      const c = await loadCampaign(join(dir, name));
      expect(c.runs.length, name).toBeGreaterThan(1);
    }
  });
});
