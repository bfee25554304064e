/**
 * What the socket API streams of the P2P market: the whole market for operators and viewers, and
 * each prosumer's own part of it (its participants' orders, trades, deliveries and accounts, and
 * its microgrids' prices). Built here, in the server's room, from the market's telemetry
 * (market/telemetry.ts), so the filtering is one function a test can read: a prosumer's part holds
 * its own participants and nothing else.
 */
import type { MarketTelemetry } from '../../market/telemetry.ts';
import type { LiveState, MarketLiveView, ProsumerMarketView, ProsumerView } from './api.ts';

/** The operators' view: the market's record without its telemetry kind. */
export function marketLiveViewOf(t: MarketTelemetry): MarketLiveView {
  const { kind: _kind, ...view } = t;
  return view;
}

/** The prosumers the market names (run config `prosumers`), sorted. */
export function marketProsumers(t: MarketTelemetry | undefined): string[] {
  if (!t) return [];
  const ids = new Set<string>();
  for (const p of Object.values(t.participants)) if (p.prosumer) ids.add(p.prosumer);
  return [...ids].sort();
}

/** One prosumer's own part of the market; undefined when none of the participants is its. */
export function prosumerMarketViewOf(t: MarketTelemetry, prosumer: string): ProsumerMarketView | undefined {
  const own = new Set(Object.keys(t.participants).filter((id) => t.participants[id]!.prosumer === prosumer));
  if (own.size === 0) return undefined;
  const microgrids = new Set([...own].map((id) => t.participants[id]!.microgrid));
  const participants: ProsumerMarketView['participants'] = {};
  for (const id of [...own].sort()) participants[id] = { microgrid: t.participants[id]!.microgrid };
  const accounts: ProsumerMarketView['accounts'] = {};
  for (const id of own) if (t.ledger.accounts[id]) accounts[id] = { ...t.ledger.accounts[id]! };
  return {
    market: t.market,
    interval_s: t.interval_s,
    participants,
    intervals: t.intervals.map((i) => ({
      intervalStart_s: i.intervalStart_s,
      state: i.state,
      ...(i.note === undefined ? {} : { note: i.note }),
      prices: Object.fromEntries(
        i.prices.filter((p) => microgrids.has(p.microgrid)).map((p) => [p.microgrid, p.price]),
      ),
      orders: i.orders.filter((o) => own.has(o.participant)).map((o) => ({ ...o })),
      deliveries: i.deliveries.filter((d) => own.has(d.participant)).map((d) => ({ ...d })),
    })),
    accounts,
    ledger: { state: t.ledger.state, settled: t.ledger.settled },
  };
}

/**
 * A prosumer's view with its market part: the VPP's view when the VPP has one for it, otherwise a
 * view of its own market units (their live output as its meter; no VPP price or schedule).
 */
export function withMarket(
  view: ProsumerView | undefined,
  t: MarketTelemetry | undefined,
  prosumer: string,
  devices?: LiveState['devices'],
  t_s?: number,
): ProsumerView | undefined {
  const market = t ? prosumerMarketViewOf(t, prosumer) : undefined;
  if (!market) return view;
  if (view) return { ...view, market };
  const units: ProsumerView['meter']['units'] = {};
  let p_mw = 0;
  for (const id of Object.keys(market.participants)) {
    const live = devices?.[id];
    if (!live) continue;
    units[id] = { p_mw: live.p_mw, ...(live.soc === undefined ? {} : { soc: live.soc }) };
    p_mw += live.p_mw;
  }
  return {
    prosumer,
    t_s: Math.max(t_s ?? 0, t!.t_s),
    meter: { p_mw, units },
    price_per_mwh: null,
    schedule: {},
    market,
  };
}
