import { describe, expect, it } from 'vitest';
import { derAgents, derParticipants } from '../market/agents.ts';
import { MarketController } from '../market/controller.ts';
import { loadGridFile } from '../twin/files.ts';
import { Twin } from '../twin/twin.ts';

const DEMO_GRID = new URL('../grids/demo-33bw-microgrids.yaml', import.meta.url).pathname;

describe('P2P market on a real twin (demo grid)', () => {
  it('plugs in through the contract alone and the FIDs deliver the cleared exchange', async () => {
    const { grid, config } = await loadGridFile(DEMO_GRID);
    // The market's FIDs carry its schedule alone: in frequency-support mode a FID adds droop power to
    // its set-point (energy the market did not clear).
    for (const f of grid.fids)
      config.fids = { ...config.fids, [f.id]: { ...config.fids?.[f.id], mode: 'fixed' } };
    const catalog = new Twin(grid, { config, dt_s: 0.1, seed: 1 }).catalog();
    const market = new MarketController({
      fids: catalog.fids.map((f) => f.id),
      participants: derParticipants(catalog, {}, 1e12),
      bidder: derAgents(),
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
    // Cleared at the gate closures (60, 180 s) for the intervals starting at 120 and 240 s.
    expect(market.history.map((h) => h.intervalStart_s)).toEqual([120, 240, 360]);
    let exchanged = 0;
    for (const record of market.history.slice(0, 2)) {
      const result = record.result!;
      const k = record.intervalStart_s / 120;
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
