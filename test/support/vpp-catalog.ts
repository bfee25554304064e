/**
 * A twin and its controller catalog (twin/control/contract.ts TwinCatalog) for the VPP suites, built
 * from a grid file. Stands in for `Twin.catalog()` until the core redesign provides it: the values
 * come from the twin's own units (cost, dispatchable) and the grid file (ratings, energy).
 */
import type { TwinCatalog } from '../../twin/control/contract.ts';
import { loadGridFile } from '../../twin/files.ts';
import { Twin } from '../../twin/twin.ts';

export const DEMO_GRID = new URL('../../grids/demo-33bw-microgrids.yaml', import.meta.url).pathname;
export const DEMO_PORTFOLIO = new URL('../../vpp/portfolios/demo-33bw.yaml', import.meta.url).pathname;

export async function twinWithCatalog(
  gridFile = DEMO_GRID,
  dt_s = 0.05,
): Promise<{ twin: Twin; catalog: TwinCatalog }> {
  const { grid, config } = await loadGridFile(gridFile);
  const twin = new Twin(grid, { config, dt_s, seed: 1 });
  const microgridOf = new Map(grid.buses.map((b) => [b.id, b.microgrid]));
  const catalog: TwinCatalog = {
    f0_hz: grid.frequency_hz ?? 50,
    dt_s,
    busIds: grid.buses.map((b) => b.id),
    microgrids: grid.microgrids.map((m) => ({
      id: m.id,
      buses: grid.buses.filter((b) => b.microgrid === m.id).map((b) => b.id),
    })),
    ders: grid.ders.map((d) => {
      const unit = twin.units.find((u) => u.id === d.id)!;
      const ratingMw = typeof d.params.rating_mw === 'number' ? d.params.rating_mw : d.rating_mva;
      const battery = d.technology === 'battery';
      return {
        id: d.id,
        technology: d.technology,
        bus: d.bus,
        microgrid: microgridOf.get(d.bus),
        rating_mva: d.rating_mva,
        // Running units' capability (a genset's minimum stable loading, a battery's charge rate).
        pmin_mw: battery ? -ratingMw : unit.pmin_mw,
        pmax_mw: ratingMw,
        ...(battery ? { capacity_mwh: Number(d.params.energy_mwh ?? ratingMw * 2) } : {}),
        cost_per_mwh: unit.cost_per_mwh,
        dispatchable: unit.dispatchable,
        hardware: false,
      };
    }),
    fids: grid.fids.map((f) => ({ id: f.id, busA: f.busA, busB: f.busB, rating_mw: f.rating_mva })),
    loads: grid.loads.map((l) => ({
      id: l.id,
      bus: l.bus,
      microgrid: microgridOf.get(l.bus),
      controllable: twin.loads.controllable[twin.loads.ids.indexOf(l.id)] === 1,
    })),
    breakers: [...grid.switches.map((s) => s.id), ...grid.branches.map((b) => b.id)],
    network: twin.catalog().network,
  };
  return { twin, catalog };
}
