/**
 * Island reserve (docs/market.md, "Island reserve"): how much an islanded microgrid may export or
 * import over its FIDs in the next interval so that the units holding its frequency can still follow
 * it, with reserve. A security constraint of the clearing (`ExchangeLimit`), as a transmission
 * operator keeps reserve on the units that balance an area.
 *
 * In an island the FIDs carry a fixed schedule; whatever the schedules and forecasts leave — load and
 * losses less renewables and the other units, forecast errors, flexible load that still runs — falls
 * on the grid-forming units (synchronous gensets, grid-forming converters) by droop. So the units must
 * cover the island's own net load plus the export, up and down, with reserve to spare:
 *
 *   export ≤ Σ up-capability − local net load − reserve
 *   import ≤ local net load − Σ down-capability − reserve
 *
 * with the local net load by persistence (what the grid-forming units deliver now less what leaves
 * over the FIDs now), a generator's capability its rating and its minimum output, and a battery's
 * only what its energy between `socMin` and `socMax` can hold over the whole interval (a battery at
 * its lowest charge gives nothing: the market day's MG3 black-out was a battery run empty under a
 * full export, its gensets already at their rating).
 *
 * Depends on the twin's contract only.
 */
import type { TwinState } from '../twin/api.ts';
import type { TwinCatalog } from '../twin/control/contract.ts';
import type { ExchangeLimit } from './clearing.ts';
import type { Order } from './orders.ts';

/** The reserve an island keeps on its grid-forming units (docs/market.md). */
export interface IslandReserveOptions {
  /** Reserve kept, up and down, MW at least. @default 0.05 */
  min_mw?: number;
  /** …and at least this share of the island's local net load. @default 0.1 */
  fraction?: number;
  /** Batteries count only the energy above this state of charge. @default 0.2 */
  socMin?: number;
  /** …and the room below this one. @default 0.9 */
  socMax?: number;
}

export const ISLAND_RESERVE_DEFAULTS: Required<IslandReserveOptions> = {
  min_mw: 0.05,
  fraction: 0.1,
  socMin: 0.2,
  socMax: 0.9,
};

/** What the limit was computed from (MW), for the report. */
export interface IslandReserve {
  microgrid: string;
  up_mw: number;
  down_mw: number;
  localNet_mw: number;
  reserve_mw: number;
}

/**
 * The island-reserve limit of every islanded, energised microgrid (a grid-connected one has the
 * main grid behind it; a dark one carries nothing anyway).
 */
export function islandLimits(
  state: Readonly<TwinState>,
  catalog: TwinCatalog,
  interval_s: number,
  options: IslandReserveOptions = {},
): ExchangeLimit[] {
  return exchangeLimits(islandReserves(state, catalog, interval_s, options), interval_s);
}

/** The exchange limits of islands whose reserve figures are known. */
export function exchangeLimits(reserves: readonly IslandReserve[], interval_s: number): ExchangeLimit[] {
  const wh = (mw: number) => Math.max(0, Math.floor(mw * 1e6 * (interval_s / 3600)));
  return reserves.map((r) => {
    return {
      microgrid: r.microgrid,
      maxExport_wh: wh(r.up_mw - r.localNet_mw - r.reserve_mw),
      maxImport_wh: wh(r.localNet_mw - r.down_mw - r.reserve_mw),
      constraint:
        `island reserve (grid-forming units ${fmt(r.down_mw)}…${fmt(r.up_mw)} MW, ` +
        `local net load ${fmt(r.localNet_mw)} MW, reserve ${fmt(r.reserve_mw)} MW)`,
    };
  });
}

const fmt = (mw: number) => mw.toFixed(3);

/** The figures behind `islandLimits`, per islanded energised microgrid. */
export function islandReserves(
  state: Readonly<TwinState>,
  catalog: TwinCatalog,
  interval_s: number,
  options: IslandReserveOptions = {},
): IslandReserve[] {
  const o = { ...ISLAND_RESERVE_DEFAULTS, ...options };
  const hours = interval_s / 3600;
  const out: IslandReserve[] = [];
  for (const mg of catalog.microgrids) {
    if (!state.microgrids?.[mg.id]?.islanded) continue;
    const buses = new Set(mg.buses);
    const island = state.islands.find((i) => i.buses.some((b) => buses.has(b)));
    if (island && !island.energised) continue;
    // A catalog that does not say which units form the grid (published before it did): no limit.
    if (!catalog.ders.some((d) => d.microgrid === mg.id && d.gridForming !== undefined)) continue;
    let now = 0;
    let up = 0;
    let down = 0;
    for (const der of catalog.ders) {
      if (der.microgrid !== mg.id || !der.gridForming) continue;
      const d = state.devices[der.id];
      if (!d?.online || d.tripped) continue;
      now += d.p_mw;
      if (der.capacity_mwh !== undefined && d.soc !== undefined) {
        // Power the battery can hold for the whole interval within its band.
        up += Math.min(der.pmax_mw, Math.max(0, ((d.soc - o.socMin) * der.capacity_mwh) / hours));
        down -= Math.min(-der.pmin_mw, Math.max(0, ((o.socMax - d.soc) * der.capacity_mwh) / hours));
      } else {
        up += der.pmax_mw;
        down += Math.max(0, der.pmin_mw);
      }
    }
    // What leaves the microgrid over its FIDs now (the sending side's power, losses included).
    let sent = 0;
    for (const f of catalog.fids) {
      const s = state.fids?.[f.id];
      if (!s) continue;
      if (buses.has(f.busA)) sent -= s.p_a_mw;
      if (buses.has(f.busB)) sent -= s.p_b_mw;
    }
    const localNet = now - sent;
    out.push({
      microgrid: mg.id,
      up_mw: up,
      down_mw: down,
      localNet_mw: localNet,
      reserve_mw: Math.max(o.min_mw, o.fraction * Math.abs(localNet)),
    });
  }
  return out;
}

/** The island's grid-forming offers held back as reserve (what `holdBack` trimmed). */
export interface HeldReserve {
  microgrid: string;
  /** What the grid-forming units may still sell together, Wh. */
  offered_wh: number;
  /** What was trimmed from their dearest offers, Wh. */
  held_wh: number;
  /** The cheapest limit price of a trimmed offer (units/MWh). */
  heldFrom_price: number;
  constraint: string;
}

/**
 * Reserve holdback: an island's grid-forming units together offer at most their up-capability less
 * the reserve (`up − reserve` over the interval), so what clears leaves them the reserve to follow
 * the island. Their offers are kept in merit order (price, then time, then id) and the dearest
 * trimmed — the ones the clearing would take last. `gridFormingOf` maps each grid-forming
 * participant to its microgrid. Pure: the orders given are not modified.
 */
export function holdBack(
  orders: readonly Order[],
  reserves: readonly IslandReserve[],
  gridFormingOf: ReadonlyMap<string, string>,
  interval_s: number,
): { orders: Order[]; held: HeldReserve[] } {
  const out = [...orders];
  const held: HeldReserve[] = [];
  for (const r of reserves) {
    let room = Math.max(0, Math.floor((r.up_mw - r.reserve_mw) * 1e6 * (interval_s / 3600)));
    const offered = room;
    const mine = out
      .map((o, i) => [o, i] as const)
      .filter(([o]) => o.side === 'sell' && gridFormingOf.get(o.participant) === r.microgrid)
      .sort(([x], [y]) => x.price - y.price || x.t_s - y.t_s || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    let trimmed = 0;
    let from = Number.POSITIVE_INFINITY;
    for (const [o, i] of mine) {
      const keep = Math.min(o.qty_wh, room);
      room -= keep;
      if (keep < o.qty_wh) {
        trimmed += o.qty_wh - keep;
        from = Math.min(from, o.price);
        out[i] = { ...o, qty_wh: keep };
      }
    }
    if (trimmed > 0)
      held.push({
        microgrid: r.microgrid,
        offered_wh: offered,
        held_wh: trimmed,
        heldFrom_price: from,
        constraint: `island reserve (${fmt(r.reserve_mw)} MW kept on grid-forming units of ${fmt(r.up_mw)} MW)`,
      });
  }
  return { orders: out, held };
}
