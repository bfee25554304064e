import { describe, expect, it } from 'vitest';
import { MarketController, microgridAgents } from '../market/controller.ts';
import type { Participant } from '../market/orders.ts';
import { loadGridFile } from '../twin/files.ts';
import { Twin } from '../twin/twin.ts';

const DEMO_GRID = new URL('../grids/demo-33bw-microgrids.yaml', import.meta.url).pathname;

describe('P2P market on a real twin (demo grid)', () => {
  it('plugs in through the contract alone and the FIDs deliver the cleared exchange', async () => {
    const { grid, config } = await loadGridFile(DEMO_GRID);
    const catalog = new Twin(grid, { config, dt_s: 0.1, seed: 1 }).catalog();
    const participants = new Map<string, Participant>(
      catalog.microgrids.map((mg) => [mg.id, { id: mg.id, microgrid: mg.id, deposit: 1e12 }]),
    );
    const market = new MarketController({
      fids: catalog.fids.map((f) => f.id),
      participants,
      bidder: microgridAgents({ buyPrice: 200, sellPrice: 100 }),
      config: { interval_s: 120 },
    });
    const twin = new Twin(grid, { config, dt_s: 0.1, seed: 1, controllers: [market] });
    for (const f of catalog.fids) expect(twin.ownership.ownerOf({ kind: 'fid', id: f.id })).toBe('market');
    const delivered_wh = new Map<string, number[]>(catalog.fids.map((f) => [f.id, []]));
    let state = twin.step([]);
    while (state.t_s < 360 - 1e-9) {
      state = twin.step([]);
      const interval = Math.floor((state.t_s - 1e-9) / 120);
      for (const f of catalog.fids) {
        const s = state.fids![f.id]!;
        const list = delivered_wh.get(f.id)!;
        // Transfer A→B as the mean of what left A and reached B (the converter's loss split).
        list[interval] = (list[interval] ?? 0) + (((s.p_b_mw - s.p_a_mw) / 2) * 1e6 * twin.dt_s) / 3600;
      }
    }
    expect(market.history.length).toBeGreaterThanOrEqual(3);
    let exchanged = 0;
    for (let k = 1; k < 3; k++) {
      const result = market.history[k]!.result!;
      for (const link of result.links) {
        const got = delivered_wh.get(link.id)![k]!;
        exchanged += Math.abs(link.flow_wh);
        // Within 1 % of the cleared energy, or of the FID's energy over the interval when nothing cleared.
        const ratingWh = (catalog.fids.find((f) => f.id === link.id)!.rating_mw * 1e6 * 120) / 3600;
        expect(Math.abs(got - link.flow_wh)).toBeLessThanOrEqual(
          0.01 * Math.max(Math.abs(link.flow_wh), ratingWh),
        );
      }
    }
    expect(exchanged).toBeGreaterThan(0);
  });
});
