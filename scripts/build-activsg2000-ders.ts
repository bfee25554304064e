/**
 * Builds grids/activsg2000-ders.yaml: the synthetic Texas grid case_ACTIVSg2000 (60 Hz) run as one
 * island with its own frequency (the twin holds a grid-connected island at the main grid's
 * frequency, so the case's slack bus becomes a PV bus whose generator is grid-forming), with 220
 * DERs of the source review's Table 1 spread over its load buses. (The twin balances an island
 * at t = 0 itself, sharing the demand over its formers by rating, so the case's dispatch is not
 * adjusted.)
 *
 *   node --import tsx scripts/build-activsg2000-ders.ts     (rewrites the grid file)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMatpower } from '../twin/grid/matpower.ts';
import type { Der } from '../twin/grid/model.ts';
import { gridToYaml } from '../twin/grid/yaml.ts';

const root = join(import.meta.dirname, '..');
const source = join(root, 'grids/matpower/case_ACTIVSg2000.m');
const grid = parseMatpower(readFileSync(source, 'utf8'), source).grid;
grid.name = 'activsg2000-ders';
// Out-of-service generators are left out: the twin's initial balancing would give them a share
// of the island's initial imbalance, which they then drop on the first step.
grid.generators = grid.generators.filter((g) => g.inService);
// The case fixes 118 units' output (Pmin = Pmax), which would pin their governors at the limit
// while the twin's initial balance loads every former to the same fraction of its rating, so
// they would ramp away at t = 0. Give every unit the combustion-turbine governor range instead
// (Pmin ≤ 40 % of Pmax): all transmission units then share primary response by rating.
for (const g of grid.generators) g.pmin_mw = Math.min(g.pmin_mw, Number((0.4 * g.pmax_mw).toFixed(2)));

// The slack bus's generators become the island's grid-forming reference.
for (const bus of grid.buses) {
  if (bus.kind !== 'slack') continue;
  bus.kind = 'pv';
  for (const g of grid.generators) if (g.bus === bus.id) g.gridForming = true;
}

// DERs on the largest loads' buses, one per bus, technologies interleaved so every kind is spread
// over the whole state. Sizes are distribution-scale plants; clouds and turbulence are left at
// their defaults. The `p` given here is only a start: the twin's initial balance loads every
// former (generators, gensets, grid-forming batteries) to the same fraction of its rating.
const mix: {
  technology: Der['technology'];
  count: number;
  rating: number;
  p: number;
  params: Der['params'];
}[] = [
  { technology: 'pv', count: 80, rating: 8, p: 0, params: {} },
  { technology: 'wind', count: 60, rating: 10, p: 0, params: { meanSpeed_m_s: 10 } },
  { technology: 'battery', count: 40, rating: 10, p: 0, params: { energy_mwh: 20, soc0: 0.6 } },
  { technology: 'diesel-genset', count: 20, rating: 4, p: 2, params: {} },
  { technology: 'gas-genset', count: 20, rating: 6, p: 3, params: {} },
];
const loadBuses = [...grid.loads].sort((a, b) => b.p_mw - a.p_mw).map((l) => l.bus);
const buses = [...new Set(loadBuses)];
const total = mix.reduce((n, m) => n + m.count, 0);
if (buses.length < total) throw new Error(`only ${buses.length} load buses for ${total} DERs`);
const queue = mix.map((m) => ({ ...m, left: m.count }));
let slot = 0;
while (queue.some((m) => m.left > 0)) {
  for (const m of queue) {
    if (m.left === 0) continue;
    m.left--;
    const n = m.count - m.left;
    const synchronous = m.technology.endsWith('genset');
    grid.ders.push({
      id: `${m.technology}-${n}`,
      bus: buses[slot++],
      technology: m.technology,
      control: synchronous || m.technology === 'battery' ? 'grid-forming' : 'pq',
      rating_mva: m.rating,
      p_mw: m.p,
      q_mvar: 0,
      qmin_mvar: -m.rating,
      qmax_mvar: m.rating,
      vset_pu: 1,
      participation: 0,
      inService: true,
      params: { ...m.params },
    });
  }
}

// Twin settings: a transmission system's frequency is restored by AGC over minutes, not by the
// twin's microgrid secondary control, so only primary response (droop, inertia, load damping) acts.
// Loads are constant power (behind on-load tap changers, as in transmission studies), with the
// default frequency dependence: the load damping is then kpf·P_load/f0 whatever the voltages.
const twinSection = [
  'twin:',
  '  secondary: { enabled: false }',
  '  loads: { default: { zip: [0, 0, 1] } }',
].join('\n');
const header = [
  'case_ACTIVSg2000 (synthetic Texas grid, 60 Hz; grids/matpower/SOURCES.md) with 220 DERs,',
  'built by scripts/build-activsg2000-ders.ts: the slack bus is a PV bus whose generator is',
  'grid-forming (one island with its own frequency), out-of-service generators left out,',
  'every generator’s Pmin at most 40 % of Pmax (a governor range), DERs on the buses of the',
  'largest loads.',
].join('\n');
const target = join(root, 'grids/activsg2000-ders.yaml');

writeFileSync(target, `${gridToYaml(grid, { header })}\n${twinSection}\n`);
