import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadGridFile } from '../../twin/files.ts';
import { parseMatpower } from '../../twin/grid/matpower.ts';
import { emptyGrid, type Grid } from '../../twin/grid/model.ts';
import { autoLayout, topologyFromGrid } from './topology.ts';

const case33 = (): Grid => {
  const file = join(import.meta.dirname, '../../grids/matpower/case33bw.m');
  return parseMatpower(readFileSync(file, 'utf8'), file).grid;
};

const bus = (id: string, extra: Partial<Grid['buses'][number]> = {}): Grid['buses'][number] => ({
  id,
  kind: 'pq',
  baseKV: 12.66,
  vm_pu: 1,
  va_deg: 0,
  vmin_pu: 0.9,
  vmax_pu: 1.1,
  ...extra,
});
const line = (id: string, from: string, to: string, inService = true): Grid['branches'][number] => ({
  id,
  kind: 'line',
  from,
  to,
  r_pu: 0.01,
  x_pu: 0.01,
  b_pu: 0,
  tap: 1,
  shift_deg: 0,
  rateA_mva: 0,
  inService,
});

describe('topologyFromGrid', () => {
  it('keeps file coordinates when every bus has them', () => {
    const grid = emptyGrid('xy');
    grid.buses = [bus('a', { x: 10, y: 5, kind: 'slack' }), bus('b', { x: 30, y: 5, microgrid: 'm' })];
    grid.branches = [line('l', 'a', 'b')];
    grid.microgrids = [{ id: 'm', pccSwitch: 'sw' }];
    grid.switches = [{ id: 'sw', kind: 'breaker', from: 'a', to: 'b', closed: false }];
    const t = topologyFromGrid(grid, { hardwareDevices: [] });
    expect(t.layout).toBe('coordinates');
    expect(t.buses).toEqual([
      { id: 'a', x: 10, y: 5, baseKV: 12.66, slack: true },
      { id: 'b', x: 30, y: 5, baseKV: 12.66, microgrid: 'm' },
    ]);
    expect(t.switches).toEqual([{ id: 'sw', kind: 'breaker', from: 'a', to: 'b', closed: false }]);
    expect(t.microgrids).toEqual([{ id: 'm', pccSwitch: 'sw' }]);
  });

  it('lays out automatically when any bus lacks coordinates, and marks hardware devices', () => {
    const grid = case33();
    grid.buses[3].x = 5;
    grid.ders = [
      {
        id: 'bess-hw',
        bus: '18',
        technology: 'battery',
        control: 'pq',
        rating_mva: 0.2,
        p_mw: 0,
        q_mvar: 0,
        qmin_mvar: 0,
        qmax_mvar: 0,
        vset_pu: 1,
        participation: 0,
        inService: true,
        params: {},
      },
    ];
    const t = topologyFromGrid(grid, { hardwareDevices: ['bess-hw'] });
    expect(t.layout).toBe('auto');
    expect(t.ders[0].hardware).toBe(true);
    expect(t.lines).toHaveLength(37);
  });
});

describe('the demo grid', () => {
  it('is drawn along its feeder, reaching the islanded microgrids through their open breakers', async () => {
    const { grid, config } = await loadGridFile(
      join(import.meta.dirname, '../../grids/demo-33bw-microgrids.yaml'),
    );
    const t = topologyFromGrid(grid, { hardware: config.hardware });
    expect(t.layout).toBe('auto');
    const at = (id: string) => t.buses.find((b) => b.id === id)!;
    // 1 -pcc- 2-3-4-5 -L5-6 (open)- 6-...-18: the Baran & Wu main feeder stays one straight row.
    for (let b = 1; b <= 18; b++) expect(at(String(b))).toMatchObject({ x: b - 1, y: 0 });
    expect(at('26').x).toBe(at('6').x + 1);
    const breakers = t.lines.filter((l) => l.breaker).map((l) => l.id);
    expect(breakers).toEqual(expect.arrayContaining(['L5-6', 'L6-26']));
    expect(breakers).not.toContain('L2-3');
    expect(t.ders.find((d) => d.id === 'bess-hw')).toMatchObject({
      bus: '18',
      hardware: true,
      technology: 'hardware',
    });
  });
});

describe('autoLayout', () => {
  it('draws the Baran & Wu feeder as a tree: main feeder 1..18 on one row, laterals below', () => {
    const grid = case33();
    const pos = autoLayout(grid);
    const at = (id: string) => pos.get(id)!;
    // The longest radial path from the substation (bus 1) is 1-2-...-18 (Baran & Wu 1989, Fig. 2).
    for (let b = 1; b <= 18; b++) expect(at(String(b))).toEqual({ x: b - 1, y: 0 });
    // Laterals start one step right of their branching bus, on rows below the main feeder.
    expect(at('19').x).toBe(at('2').x + 1);
    expect(at('23').x).toBe(at('3').x + 1);
    expect(at('26').x).toBe(at('6').x + 1);
    for (const lateral of ['19', '23', '26']) expect(at(lateral).y).toBeGreaterThan(0);
    // No two buses share a position.
    const keys = new Set([...pos.values()].map((p) => `${p.x},${p.y}`));
    expect(keys.size).toBe(33);
  });

  it('stacks disconnected parts and survives a very long chain without recursion overflow', () => {
    const grid = emptyGrid('chain');
    const n = 20_000;
    grid.buses = Array.from({ length: n }, (_, i) => bus(String(i), i === 0 ? { kind: 'slack' } : {}));
    grid.branches = Array.from({ length: n - 2 }, (_, i) => line(`l${i}`, String(i), String(i + 1)));
    const pos = autoLayout(grid);
    expect(pos.size).toBe(n);
    const keys = new Set([...pos.values()].map((p) => `${p.x},${p.y}`));
    expect(keys.size).toBe(n);
  });

  it('puts an isolated part on its own rows', () => {
    const grid = emptyGrid('two');
    grid.buses = [bus('a', { kind: 'slack' }), bus('b'), bus('c'), bus('d')];
    grid.branches = [line('ab', 'a', 'b'), line('cd', 'c', 'd')];
    const pos = autoLayout(grid);
    expect(pos.get('a')).toEqual({ x: 0, y: 0 });
    expect(pos.get('b')).toEqual({ x: 1, y: 0 });
    expect(pos.get('c')!.y).toBeGreaterThan(0);
    expect(pos.get('d')).toEqual({ x: 1, y: pos.get('c')!.y });
  });
});
