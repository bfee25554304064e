/**
 * Bidding agents per DER (docs/market.md, "Bidding agents"): every prosumer's DERs and loads bid
 * automatically from a forecast of the next interval, at limit prices the user sets.
 *
 * - **Renewables** (PV, wind: not dispatchable) sell their forecast output at the renewable limit
 *   price: by persistence (what they make now, over the interval), or with `forecast` by
 *   shape-scaled persistence (market/forecast.ts: PV on the clear-sky shape, wind smoothed).
 * - **Dispatchable generators** sell their capability over the interval: the part down to their minimum
 *   output at the price floor (it runs whatever the price: an islanded microgrid cannot import more
 *   than its gensets can back down), the rest at their marginal cost. Offers that do not depend on
 *   what the FIDs do to them now, so the schedule cannot oscillate.
 * - **Batteries** (and the hardware battery slot, from its *measured* state of charge) sell the energy
 *   above their lowest state of charge and buy the room below their highest, each capped by the power
 *   rating over the interval, at the battery's sell and buy limits.
 * - **Loads**: each microgrid's demand — what its DERs make plus what it imports through its PCC and
 *   FIDs, less nothing the market curtailed (that is added back), by persistence or with `forecast`
 *   on the daily load profile — is bought by two participants: `load:<mg>` the firm part at the
 *   load's limit, `flex:<mg>` the flexible part (the share of controllable loads) at the lower
 *   flexible limit. What `flex:<mg>` does not clear is curtailed (`flexLoads`, the controller's
 *   `curtail`), so what clears is what is consumed.
 *
 * DERs another participant bids for (a VPP's members, `biddenBy`) are left out, so nothing is sold
 * twice. Participant ids are the DER ids, `load:<microgrid>` and `flex:<microgrid>`. Depends on the
 * twin's contract only.
 */
import type { TwinState } from '../twin/api.ts';
import type { ControllerAction, DerInfo, TwinCatalog } from '../twin/control/contract.ts';
import type { Bidder } from './controller.ts';
import { clearSky, type DailyShape, dailyProfile, ObservationLog, shapeScaled } from './forecast.ts';
import type { Order, Participant } from './orders.ts';

/** User-set limit prices (money units per MWh, whole numbers) and the batteries' state-of-charge band. */
export interface DerAgentOptions {
  /** Renewables' sell limit. @default 0 (sell whatever the price) */
  renewableSellPrice?: number;
  /** Battery limits: sells above `sellPrice`, buys below `buyPrice`. @default 150 / 90 */
  battery?: { sellPrice?: number; buyPrice?: number; socMin?: number; socMax?: number };
  /** Load limits: the firm part buys up to `buyPrice`, the flexible part up to `flexPrice`. @default 300 / 120 */
  load?: { buyPrice?: number; flexPrice?: number };
  /**
   * Per DER: its own limits, whether it trades at all, and the energy capacity of a battery the
   * twin's catalog does not know (the hardware slot: a real board).
   */
  byId?: Readonly<
    Record<string, { sellPrice?: number; buyPrice?: number; capacity_mwh?: number; trade?: boolean }>
  >;
  /**
   * Forecast better than persistence (market/forecast.ts) from what the agents observed over the last
   * `window_s` (default 300) before the gate: PV on the clear-sky shape between `sunrise_h` and
   * `sunset_h` (default 6–18, as the twin's PV), loads on `loadProfile` (the scenario's daily profile),
   * wind smoothed. `startHour` is the hour of day at t = 0. Absent: persistence.
   */
  forecast?: {
    startHour: number;
    loadProfile?: readonly number[];
    sunrise_h?: number;
    sunset_h?: number;
    window_s?: number;
  };
  /**
   * DERs and controllable loads another participant bids for (a VPP's members: id → the VPP's
   * participant id). The agents leave them out, so nothing is sold twice: no order for such a DER,
   * and such a load is not part of its microgrid's flexible demand.
   */
  biddenBy?: ReadonlyMap<string, string>;
  /**
   * Passive prosumers: participants (DER ids, `load:<mg>`, `flex:<mg>`) that stay registered and
   * metered but send no orders; the settlement shares their metered energy by the community sharing
   * rule (market/sharing.ts, docs/market.md "Passive prosumers").
   */
  passive?: readonly string[];
}

const BATTERY_DEFAULTS = { sellPrice: 150, buyPrice: 90, socMin: 0.2, socMax: 0.9 };
const LOAD_DEFAULTS = { buyPrice: 300, flexPrice: 120 };

/** The tag of a generator's must-run order (its minimum output, offered at the price floor). */
const MUST_RUN = 'must-run';

/** Whether an order (by its id, `<participant>/<tag>@<interval start>`) is a generator's must-run. */
export const isMustRunOrder = (orderId: string): boolean => orderId.includes(`/${MUST_RUN}@`);

/** The participant id of a microgrid's loads (the firm part). */
export const loadParticipant = (microgrid: string): string => `load:${microgrid}`;
/** The participant id of a microgrid's flexible (controllable) loads. */
export const flexParticipant = (microgrid: string): string => `flex:${microgrid}`;

/**
 * Each microgrid's flexible participant and its controllable loads (the controller's `curtail`),
 * without the loads another participant bids for.
 */
export function flexLoads(
  catalog: TwinCatalog,
  biddenBy?: ReadonlyMap<string, string>,
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const l of catalog.loads) {
    if (!l.controllable || !l.microgrid || biddenBy?.has(l.id)) continue;
    const id = flexParticipant(l.microgrid);
    out[id] = [...(out[id] ?? []), l.id];
  }
  return out;
}

/** How an agent bids for a DER (undefined: it does not trade). */
type DerRole = 'renewable' | 'generator' | 'battery';

function roleOf(der: DerInfo, options: DerAgentOptions): DerRole | undefined {
  const own = options.byId?.[der.id];
  if (own?.trade === false || !der.microgrid || options.biddenBy?.has(der.id)) return undefined;
  if (der.technology === 'battery') return 'battery';
  // The hardware slot has no model in the twin: it trades as a battery when its capacity is given.
  if (der.hardware) return own?.capacity_mwh !== undefined ? 'battery' : undefined;
  return der.dispatchable ? 'generator' : 'renewable';
}

/** The market's participants for `derAgents`: each trading DER and each microgrid's loads. */
export function derParticipants(
  catalog: TwinCatalog,
  options: DerAgentOptions,
  deposit: number,
): Map<string, Participant> {
  const out = new Map<string, Participant>();
  for (const der of catalog.ders) {
    const role = roleOf(der, options);
    // A generator or battery runs what the market dispatches it to (docs/market.md, "Declared position").
    if (role && der.microgrid)
      out.set(der.id, { id: der.id, microgrid: der.microgrid, deposit, dispatchable: role !== 'renewable' });
  }
  for (const mg of catalog.microgrids) {
    const id = loadParticipant(mg.id);
    out.set(id, { id, microgrid: mg.id, deposit });
  }
  // Curtailed by what does not clear: held to its matched volume, as a dispatchable unit.
  for (const id of Object.keys(flexLoads(catalog, options.biddenBy)))
    out.set(id, { id, microgrid: id.slice('flex:'.length), deposit, dispatchable: true });
  return out;
}

/** Whole Wh of `p_mw` held over `hours` (never negative). */
// (+1e-6: 0.9 − 0.8 of 50 000 Wh is 4999.999… in binary, and is 5000 Wh.)
const wh = (p_mw: number, hours: number): number => Math.max(0, Math.floor(p_mw * 1e6 * hours + 1e-6));

/** A bidder that makes every DER's and every microgrid's load's orders (see the file comment). */
export function derAgents(options: DerAgentOptions = {}): Bidder {
  const battery = { ...BATTERY_DEFAULTS, ...options.battery };
  const load = { ...LOAD_DEFAULTS, ...options.load };
  const fc = options.forecast;
  const passive = new Set(options.passive);
  const log = new ObservationLog();
  const pvShape = clearSky(fc?.sunrise_h, fc?.sunset_h);
  const loadShape = fc?.loadProfile ? dailyProfile(fc.loadProfile) : undefined;
  const bidder: Bidder = (state, intervalStart_s, { catalog, config, inForce }) => {
    const hours = config.interval_s / 3600;
    // What a forecast may see: observations stamped up to the gate closure.
    const seen = log.closedAt(intervalStart_s - config.gateClosure_s);
    const forecast = (key: string, now: number, shape?: DailyShape): number =>
      fc
        ? (shapeScaled(seen, key, {
            from_s: intervalStart_s,
            interval_s: config.interval_s,
            startHour: fc.startHour,
            window_s: fc.window_s ?? 300,
            shape,
          }) ?? now)
        : now;
    const orders: Order[] = [];
    const add = (
      participant: string,
      side: Order['side'],
      qty_wh: number,
      price: number,
      tag: string = side,
    ) => {
      if (qty_wh <= 0 || passive.has(participant)) return;
      const clamped = Math.min(config.priceCap, Math.max(config.priceFloor, Math.round(price)));
      orders.push({
        id: `${participant}/${tag}@${intervalStart_s}`,
        participant,
        side,
        qty_wh,
        price: clamped,
        t_s: state.t_s,
      });
    };
    const made = new Map<string, number>();
    for (const der of catalog.ders) {
      const now = state.devices[der.id];
      const p = now?.online && !now.tripped ? now.p_mw : 0;
      if (der.microgrid) made.set(der.microgrid, (made.get(der.microgrid) ?? 0) + p);
      const role = roleOf(der, options);
      if (!role || !now) continue;
      const own = options.byId?.[der.id] ?? {};
      if (role === 'renewable') {
        const expected = forecast(der.id, p, der.technology === 'pv' ? pvShape : undefined);
        add(
          der.id,
          'sell',
          wh(Math.min(der.pmax_mw, expected), hours),
          own.sellPrice ?? options.renewableSellPrice ?? 0,
        );
      } else if (role === 'generator') {
        if (!now.online || now.tripped) continue;
        // Its minimum output runs whatever the price (a genset cannot back down below it): offered at
        // the floor, so its microgrid uses it before importing; the rest at the marginal cost.
        const mustRun = Math.max(0, der.pmin_mw);
        add(der.id, 'sell', wh(mustRun, hours), config.priceFloor, MUST_RUN);
        add(der.id, 'sell', wh(der.pmax_mw - mustRun, hours), own.sellPrice ?? der.cost_per_mwh);
      } else {
        const soc = now.soc;
        const capacity = own.capacity_mwh ?? der.capacity_mwh;
        if (soc === undefined || capacity === undefined || !now.online) continue;
        // Energy above the lowest / below the highest state of charge, capped by the power rating.
        const above = Math.min(wh(der.pmax_mw, hours), wh(soc - battery.socMin, capacity));
        const room = Math.min(wh(-der.pmin_mw, hours), wh(battery.socMax - soc, capacity));
        add(der.id, 'sell', above, own.sellPrice ?? battery.sellPrice);
        add(der.id, 'buy', room, own.buyPrice ?? battery.buyPrice);
      }
    }
    const flexShare = flexibleShare(catalog, options.biddenBy);
    for (const mg of catalog.microgrids) {
      const now = demandOf(state, catalog, mg.id, made.get(mg.id) ?? 0, flexShare, inForce);
      const total = wh(forecast(`demand:${mg.id}`, now, loadShape), hours);
      const flexible = Math.floor(total * (flexShare.get(mg.id) ?? 0));
      add(loadParticipant(mg.id), 'buy', total - flexible, load.buyPrice, 'firm');
      add(flexParticipant(mg.id), 'buy', flexible, load.flexPrice);
    }
    return orders;
  };
  /** Every wake-up of the controller: what each renewable makes, what each microgrid demands. */
  bidder.observe = (state, { catalog, inForce }) => {
    if (!fc) return;
    const made = new Map<string, number>();
    for (const der of catalog.ders) {
      const now = state.devices[der.id];
      const p = now?.online && !now.tripped ? now.p_mw : 0;
      if (der.microgrid) made.set(der.microgrid, (made.get(der.microgrid) ?? 0) + p);
      if (now && roleOf(der, options) === 'renewable') log.record(der.id, state.t_s, p);
    }
    const flexShare = flexibleShare(catalog, options.biddenBy);
    for (const mg of catalog.microgrids)
      log.record(
        `demand:${mg.id}`,
        state.t_s,
        demandOf(state, catalog, mg.id, made.get(mg.id) ?? 0, flexShare, inForce),
      );
  };
  return bidder;
}

/**
 * Microgrid `mg`'s demand now, MW: what its DERs make plus what flows in, with the part of its
 * flexible loads the market curtails (an action in force) added back — else a curtailed load would
 * bid less and be curtailed again.
 */
function demandOf(
  state: Readonly<TwinState>,
  catalog: TwinCatalog,
  mg: string,
  made_mw: number,
  flexShare: ReadonlyMap<string, number>,
  inForce: readonly ControllerAction[] | undefined,
): number {
  const served = made_mw + importOf(state, catalog, mg);
  return served / Math.max(0.05, 1 - (flexShare.get(mg) ?? 0) * curtailedFraction(catalog, mg, inForce));
}

/** The fraction by which the market curtails microgrid `mg`'s flexible loads now (0 when it does not). */
function curtailedFraction(
  catalog: TwinCatalog,
  mg: string,
  inForce: readonly ControllerAction[] | undefined,
): number {
  const flexible = flexibleLoadsOf(catalog).loads.get(mg);
  const curtailed = inForce?.find((a) => a.kind === 'load-curtail' && flexible?.has(a.id));
  return curtailed?.kind === 'load-curtail' ? curtailed.fraction : 0;
}

/**
 * What microgrid `mg`'s load participants consume now, MW (positive). The twin publishes only the
 * demand a microgrid serves (what its DERs make plus what flows in), so meters split it by the rule
 * the agents bid by: `flex:<mg>` the flexible share of the uncurtailed demand less its curtailment,
 * `load:<mg>` the rest; `flex_mw` is 0 for a microgrid without flexible loads.
 */
export function loadConsumption(
  state: Readonly<TwinState>,
  catalog: TwinCatalog,
  mg: string,
  made_mw: number,
  inForce?: readonly ControllerAction[],
): { firm_mw: number; flex_mw: number } {
  const served = made_mw + importOf(state, catalog, mg);
  const flexible = flexibleLoadsOf(catalog);
  if (!flexible.loads.has(mg)) return { firm_mw: served, flex_mw: 0 };
  const share = flexible.share.get(mg) ?? 0;
  const total = demandOf(state, catalog, mg, made_mw, flexible.share, inForce);
  const flex_mw = total * share * (1 - curtailedFraction(catalog, mg, inForce));
  return { firm_mw: served - flex_mw, flex_mw };
}

/**
 * Each microgrid's flexible loads and their share, once per catalog: meters ask at every step of a
 * run, and the catalog does not change while the twin runs.
 */
const flexibleByCatalog = new WeakMap<
  TwinCatalog,
  { loads: Map<string, Set<string>>; share: Map<string, number> }
>();
function flexibleLoadsOf(catalog: TwinCatalog): {
  loads: Map<string, Set<string>>;
  share: Map<string, number>;
} {
  let known = flexibleByCatalog.get(catalog);
  if (!known) {
    const loads = new Map<string, Set<string>>();
    for (const [participant, ids] of Object.entries(flexLoads(catalog)))
      loads.set(participant.slice('flex:'.length), new Set(ids));
    known = { loads, share: flexibleShare(catalog) };
    flexibleByCatalog.set(catalog, known);
  }
  return known;
}

/** What flows into microgrid `mg` now: its PCC import plus what its FIDs bring in (MW). */
export function importOf(state: Readonly<TwinState>, catalog: TwinCatalog, mg: string): number {
  let p = state.microgrids?.[mg]?.pcc_p_mw ?? 0;
  for (const f of catalog.fids) {
    const s = state.fids?.[f.id];
    if (!s) continue;
    const buses = catalog.microgrids.find((m) => m.id === mg)?.buses ?? [];
    if (buses.includes(f.busA)) p += s.p_a_mw;
    if (buses.includes(f.busB)) p += s.p_b_mw;
  }
  return p;
}

/**
 * Share of each microgrid's loads that demand response may curtail (by count: the catalog has no
 * sizes). A load another participant bids for (a VPP member) counts as firm here.
 */
function flexibleShare(catalog: TwinCatalog, biddenBy?: ReadonlyMap<string, string>): Map<string, number> {
  const count = new Map<string, [number, number]>();
  for (const l of catalog.loads) {
    if (!l.microgrid) continue;
    const c = count.get(l.microgrid) ?? [0, 0];
    c[0] += l.controllable && !biddenBy?.has(l.id) ? 1 : 0;
    c[1] += 1;
    count.set(l.microgrid, c);
  }
  return new Map([...count].map(([mg, [flex, all]]) => [mg, all > 0 ? flex / all : 0]));
}
