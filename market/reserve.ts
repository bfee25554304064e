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
 * with the local net load forecast for the interval (`NetLoadForecast`: the island's demand on its
 * daily profile less its other units on theirs, market/forecast.ts; what the grid-forming units
 * deliver now less what leaves over the FIDs now when nothing was observed), a generator's capability
 * its rating and its minimum output, and a battery's only what its energy between `socMin` and
 * `socMax` can hold over the whole interval (a battery at its lowest charge gives nothing: the market
 * day's MG3 black-out was a battery run empty under a full export, its gensets already at their
 * rating).
 *
 * The reserve itself is co-optimised with energy in the clearing (`ReserveRequirement`): the
 * grid-forming units sell at most `U − R` together, the requirement has a price (its dual), and each
 * grid-forming participant is paid that price for the headroom it keeps.
 *
 * Depends on the twin's contract only.
 */
import type { TwinState } from '../twin/api.ts';
import type { TwinCatalog } from '../twin/control/contract.ts';
import type { ExchangeLimit, ReserveRequirement } from './clearing.ts';
import { clearSky, type DailyShape, dailyProfile, ObservationLog, shapeScaled } from './forecast.ts';

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
  /**
   * The local net load's forecast on the day's shapes (`NetLoadForecast`): `startHour` the hour of
   * day at t = 0, `loadProfile` the daily load profile, PV on the clear-sky shape between `sunrise_h`
   * and `sunset_h`, the last `window_s` (300) before the gate observed. Absent: the recent mean.
   */
  forecast?: NetLoadForecastOptions;
}

export const ISLAND_RESERVE_DEFAULTS: Required<Omit<IslandReserveOptions, 'forecast'>> = {
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
  /** The grid-forming units counted in `up_mw`, each with its own up-capability. */
  units: { der: string; up_mw: number }[];
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
  netLoad?: (microgrid: string) => number | undefined,
): ExchangeLimit[] {
  return exchangeLimits(islandReserves(state, catalog, interval_s, options, netLoad), interval_s);
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

/**
 * The figures behind `islandLimits`, per islanded energised microgrid; `netLoad` forecasts a
 * microgrid's local net load over the interval (MW; undefined: what its units deliver now).
 */
export function islandReserves(
  state: Readonly<TwinState>,
  catalog: TwinCatalog,
  interval_s: number,
  options: IslandReserveOptions = {},
  netLoad?: (microgrid: string) => number | undefined,
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
    const units: { der: string; up_mw: number }[] = [];
    for (const der of catalog.ders) {
      if (der.microgrid !== mg.id || !der.gridForming) continue;
      const d = state.devices[der.id];
      if (!d?.online || d.tripped) continue;
      now += d.p_mw;
      let unitUp: number;
      if (der.capacity_mwh !== undefined && d.soc !== undefined) {
        // Power the battery can hold for the whole interval within its band.
        unitUp = Math.min(der.pmax_mw, Math.max(0, ((d.soc - o.socMin) * der.capacity_mwh) / hours));
        down -= Math.min(-der.pmin_mw, Math.max(0, ((o.socMax - d.soc) * der.capacity_mwh) / hours));
      } else {
        unitUp = der.pmax_mw;
        down += Math.max(0, der.pmin_mw);
      }
      up += unitUp;
      units.push({ der: der.id, up_mw: unitUp });
    }
    // What leaves the microgrid over its FIDs now (the sending side's power, losses included).
    let sent = 0;
    for (const f of catalog.fids) {
      const s = state.fids?.[f.id];
      if (!s) continue;
      if (buses.has(f.busA)) sent -= s.p_a_mw;
      if (buses.has(f.busB)) sent -= s.p_b_mw;
    }
    const localNet = netLoad?.(mg.id) ?? now - sent;
    out.push({
      microgrid: mg.id,
      up_mw: up,
      down_mw: down,
      localNet_mw: localNet,
      reserve_mw: Math.max(o.min_mw, o.fraction * Math.abs(localNet)),
      units,
    });
  }
  return out;
}

/**
 * The reserve requirement of each island for the clearing (co-optimised with energy): its
 * grid-forming units keep `R` of headroom over the interval out of their up-capability `U`.
 * `providersOf` maps each grid-forming participant (DER id) to its microgrid: their sell orders use
 * the capability, and each is paid the reserve price for the headroom it keeps. Capability is rounded
 * down and the requirement up to whole Wh, so what clears never eats into the reserve.
 */
export function reserveRequirements(
  reserves: readonly IslandReserve[],
  providersOf: ReadonlyMap<string, string>,
  interval_s: number,
): ReserveRequirement[] {
  const wh = interval_s / 3600 / 1e-6;
  const down = (mw: number) => Math.max(0, Math.floor(mw * wh + 1e-6));
  const up = (mw: number) => Math.max(0, Math.ceil(mw * wh - 1e-6));
  return reserves.map((r) => ({
    microgrid: r.microgrid,
    required_wh: up(r.reserve_mw),
    capability_wh: down(r.up_mw),
    providers: r.units
      .filter((u) => providersOf.get(u.der) === r.microgrid)
      .map((u) => ({ participant: u.der, capability_wh: down(u.up_mw) })),
    constraint: `island reserve (${fmt(r.reserve_mw)} MW kept on grid-forming units of ${fmt(r.up_mw)} MW)`,
  }));
}

/** How `NetLoadForecast` forecasts (see `IslandReserveOptions.forecast`). */
export interface NetLoadForecastOptions {
  startHour: number;
  loadProfile?: readonly number[];
  sunrise_h?: number;
  sunset_h?: number;
  window_s?: number;
}

/**
 * Forecast of each microgrid's local net load over an interval — what its grid-forming units must
 * cover: its demand (what its units make plus what flows in) on the daily load profile, less each
 * other unit on its own shape (PV on the clear-sky shape, the rest smoothed), less its PCC import
 * (market/forecast.ts, the agents' model). Observed at every wake-up of the controller; a forecast
 * made at the gate closure sees nothing later.
 */
export class NetLoadForecast {
  private readonly log = new ObservationLog();
  private readonly pv: DailyShape;
  private readonly load?: DailyShape;

  constructor(private readonly options: NetLoadForecastOptions = { startHour: 0 }) {
    this.pv = clearSky(options.sunrise_h, options.sunset_h);
    this.load = options.loadProfile ? dailyProfile(options.loadProfile) : undefined;
  }

  /** Records what each microgrid demands and what its other units and PCC deliver now. */
  observe(state: Readonly<TwinState>, catalog: TwinCatalog): void {
    for (const mg of catalog.microgrids) {
      let made = 0;
      for (const der of catalog.ders) {
        if (der.microgrid !== mg.id) continue;
        const d = state.devices[der.id];
        const p = d?.online && !d.tripped ? d.p_mw : 0;
        made += p;
        if (!der.gridForming) this.log.record(der.id, state.t_s, p);
      }
      const pcc = state.microgrids?.[mg.id]?.pcc_p_mw ?? 0;
      this.log.record(`pcc:${mg.id}`, state.t_s, pcc);
      this.log.record(`demand:${mg.id}`, state.t_s, made + pcc + fidsInto(state, catalog, mg.buses));
    }
  }

  /**
   * Microgrid `mg`'s local net load over the interval starting at `from_s`, MW, from what was observed
   * up to the gate closure `gate_s`; undefined when nothing was.
   */
  forecast(
    catalog: TwinCatalog,
    mg: string,
    from_s: number,
    interval_s: number,
    gate_s: number,
  ): number | undefined {
    const seen = this.log.closedAt(gate_s);
    const o = {
      from_s,
      interval_s,
      startHour: this.options.startHour,
      window_s: this.options.window_s ?? 300,
    };
    const demand = shapeScaled(seen, `demand:${mg}`, { ...o, shape: this.load });
    if (demand === undefined) return undefined;
    let others = shapeScaled(seen, `pcc:${mg}`, o) ?? 0;
    for (const der of catalog.ders)
      if (der.microgrid === mg && !der.gridForming)
        others +=
          shapeScaled(seen, der.id, { ...o, shape: der.technology === 'pv' ? this.pv : undefined }) ?? 0;
    return demand - others;
  }
}

/** What flows into the microgrid with these buses over its FIDs now, MW. */
function fidsInto(state: Readonly<TwinState>, catalog: TwinCatalog, buses: readonly string[]): number {
  let p = 0;
  for (const f of catalog.fids) {
    const s = state.fids?.[f.id];
    if (!s) continue;
    if (buses.includes(f.busA)) p += s.p_a_mw;
    if (buses.includes(f.busB)) p += s.p_b_mw;
  }
  return p;
}
