import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGridYaml } from '../twin/grid/yaml.ts';
import { budget } from './support/machine-speed.ts';

const root = new URL('..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'gridloop-pf-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function gridloop(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/gridloop.mjs', 'powerflow', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: budget(60_000),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('gridloop powerflow', { timeout: budget(120_000) }, () => {
  it('--json: buses in file order with file ids, losses, convergence; and exports YAML', () => {
    const out = join(work, 'case33bw.yaml');
    const r = gridloop('grids/matpower/case33bw.m', '--json', '--export-yaml', out);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(Object.keys(json).sort()).toEqual(
      ['buses', 'converged', 'islands', 'iterations', 'losses', 'max_mismatch'].sort(),
    );
    expect(json.converged).toBe(true);
    expect(json.buses.map((b: { id: string }) => b.id)).toEqual(
      Array.from({ length: 33 }, (_, i) => String(i + 1)),
    );
    // Baran & Wu: 202.67 kW, bus 18 at 0.9131 pu.
    expect(json.losses.p_mw).toBeCloseTo(0.20267, 3);
    expect(json.buses[17].vm).toBeCloseTo(0.9131, 4);
    expect(json.max_mismatch).toBeLessThan(1e-8);
    expect(json.islands).toHaveLength(1);
    const exported = parseGridYaml(readFileSync(out, 'utf8'), out).grid;
    expect(exported.buses).toHaveLength(33);
  });

  it('--enforce-q-limits --method nr on case118 reproduces the stored voltage at bus 76', () => {
    const r = gridloop('grids/matpower/case118.m', '--json', '--enforce-q-limits', '--method', 'nr');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    const bus76 = json.buses.find((b: { id: string }) => b.id === '76');
    expect(Math.abs(bus76.vm - 0.943)).toBeLessThan(2e-3);
    expect(json.islands[0].method).toBe('nr');
  });

  it('--enforce-q-limits follows MATPOWER (slack limited, new slack named); --unlimited-slack-q keeps the slack', () => {
    let r = gridloop('grids/matpower/case14.m', '--json', '--enforce-q-limits');
    expect(r.code).toBe(0);
    let island = JSON.parse(r.stdout).islands[0];
    // MATPOWER 8.1 runpf (grids/matpower-results/case14_case_q1_legacy.txt): bus 1 → PQ, bus 2 ref.
    expect(island).toMatchObject({ reference: '1', slack_bus: '2', start: 'previous' });
    expect(island.switched_to_pq).toEqual([{ bus: '1', limit: 'qmin' }]);
    r = gridloop('grids/matpower/case14.m', '--json', '--enforce-q-limits', '--unlimited-slack-q');
    expect(r.code).toBe(0);
    island = JSON.parse(r.stdout).islands[0];
    expect(island).toMatchObject({ reference: '1', slack_bus: '1', switched_to_pq: [] });
    r = gridloop('grids/matpower/case14.m', '--enforce-q-limits');
    expect(r.stdout).toMatch(/Q limits: 1 at qmin switched to PQ; bus 2 became the slack/);
  });

  it('a MATPOWER file with QMAX = Inf / QMIN = -Inf (PEGASE style) solves; Inf elsewhere exits 2', () => {
    const text = readFileSync(join(root, 'grids/matpower/case14.m'), 'utf8');
    const unlimited = join(work, 'case14-inf.m');
    writeFileSync(unlimited, text.replace('\t2\t40\t42.4\t50\t-40\t', '\t2\t40\t42.4\tInf\t-Inf\t'));
    const exported = join(work, 'case14-inf.yaml');
    let r = gridloop(unlimited, '--json', '--enforce-q-limits', '--export-yaml', exported);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const fromMatpower = JSON.parse(r.stdout);
    expect(fromMatpower.converged).toBe(true);
    // The YAML export writes the unlimited side as .inf / -.inf and reads back to the same result.
    expect(readFileSync(exported, 'utf8')).toMatch(/"qmax_mvar":\.inf,"qmin_mvar":-\.inf/);
    r = gridloop(exported, '--json', '--enforce-q-limits');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).buses).toEqual(fromMatpower.buses);
    const bad = join(work, 'case14-inf-pg.m');
    writeFileSync(bad, text.replace('\t2\t40\t42.4\t50\t-40\t', '\t2\tInf\t42.4\t50\t-40\t'));
    r = gridloop(bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(`${bad}:45 \\(at /mpc/gen/1\\): 'Inf' in mpc\\.gen: values must be finite`),
    );
  });

  it('non-convergence exits 3 and still prints the result with a finite mismatch', () => {
    const r = gridloop('grids/matpower/case118.m', '--json', '--flat-start', '--max-iterations', '1');
    expect(r.code).toBe(3);
    const json = JSON.parse(r.stdout);
    expect(json.converged).toBe(false);
    expect(Number.isFinite(json.max_mismatch)).toBe(true);
    expect(json.buses.every((b: { vm: number }) => Number.isFinite(b.vm))).toBe(true);
  });

  it('bad input exits 2 with file and line; bad options exit 2', () => {
    const bad = join(work, 'bad.m');
    writeFileSync(
      bad,
      readFileSync(join(root, 'grids/matpower/case14.m'), 'utf8').replace(
        '\t1\t2\t0.01938',
        '\t1\t99\t0.01938',
      ),
    );
    let r = gridloop(bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${bad}:\\d+ \\(at /branches/0/to\\): unknown bus id '99'`));
    r = gridloop('grids/matpower/case118.m', '--method', 'sweep');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs radial islands/);
    r = gridloop('grids/matpower/case14.m', '--method', 'gs');
    expect(r.code).toBe(2);
    const orphan = join(work, 'orphan.yaml');
    writeFileSync(
      orphan,
      [
        'format: gridloop-grid/1',
        'baseMVA: 1',
        'buses:',
        '  - { id: a, kind: slack, baseKV: 0.4 }',
        '  - { id: b, baseKV: 0.4 }',
        'ders:',
        '  - { id: pv1, bus: b, technology: pv, control: pv, rating_mva: 0.1 }',
        '',
      ].join('\n'),
    );
    r = gridloop(orphan);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(`${orphan}:7 \\(at /ders/0\\): the island of buses b has generation`),
    );
    r = gridloop(join(work, 'missing.yaml'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/grid file '[^']*missing\.yaml' does not exist/);
  });
});
