/**
 * The VPP as one participant of the P2P market (docs/market.md, "The VPP as a participant"): the
 * glue between vpp/ (its CVPP bid, its controller) and market/ (orders, the market controller).
 * Neither room may import the other's internals through the twin's contract, so they meet here.
 *
 * - **Bid**: at each interval's gate closure the VPP's price–quantity curve over its members' limits
 *   for that interval (`intervalBid`: forecasts from samples stamped before the gate only) becomes
 *   limit orders of one participant, the VPP's id, in its members' microgrid.
 * - **No double selling**: its members are left out of the per-DER agents (`biddenBy`).
 * - **Award → target**: the energy the clearing gave the VPP (sold − bought, Wh) over the interval is
 *   its target (average MW) for that interval; the VPP controller dispatches its members to it.
 * - **Delivery**: the members' measured output in the twin's published state, integrated per
 *   interval — not the VPP's own report.
 */
import type { Bidder, IntervalRecord, MarketController } from '../../market/controller.ts';
import type { MarketConfig, Order, Participant } from '../../market/orders.ts';
import type { TwinState } from '../../twin/api.ts';
import type { TwinCatalog } from '../../twin/control/contract.ts';
import { type Scenario, ScenarioError } from '../../twin/scenario/load.ts';
import { pointerOf, type YamlPath } from '../../twin/yaml-source.ts';
import { statusesFrom } from '../../vpp/aggregate.ts';
import { type BidStep, intervalBid, MeasurementHistory } from '../../vpp/commercial.ts';
import type { VppMember } from '../../vpp/portfolio.ts';
import { type ScenarioVppRun, scenarioVppRun } from './scenario.ts';

/** One interval of the VPP in the market: what it was awarded and what its members delivered. */
export interface VppDelivery {
  intervalStart_s: number;
  /** Energy the clearing gave the VPP, Wh: sold − bought (P2P fills; the unmatched rest is not delivered). */
  award_wh: number;
  sold_wh: number;
  bought_wh: number;
  /** Its microgrid's clearing price, money units/MWh. */
  price: number;
  /** Σ of its members' measured output over the interval, Wh (twin state). */
  delivered_wh: number;
  /** |delivered − award| / max(|award|, 1 kWh). */
  error: number;
}

/** Below this award (Wh) the delivery error is taken against it instead (an award of 0 has no relative error). */
const ERROR_FLOOR_WH = 1000;

export interface VppParticipantOptions {
  /** The VPP's id: its participant id in the market. */
  id: string;
  /** The microgrid all its members are in (the clearing's node). */
  microgrid: string;
  /** Its members as the controller drives them (held whole). */
  members: readonly VppMember[];
  /** Hour of day at t = 0. */
  startHour: number;
  /** Its bid curve is sampled every `priceStep` money units/MWh, and at each member's marginal cost. */
  priceStep: number;
  /** How often the members' outputs are sampled for its forecasts, s of twin time. */
  sample_s: number;
  /** Upward flexibility kept out of the bid (to cover forecast errors), MW. @default 0 */
  reserve_mw?: number;
}

export class VppMarketParticipant {
  readonly history = new MeasurementHistory();
  private market?: MarketController;
  private lastSample = Number.NEGATIVE_INFINITY;
  private lastT?: number;
  private readonly delivered = new Map<number, number>();
  /** The curve of each interval's bid (for reports and tests), by interval start. */
  readonly bids = new Map<number, BidStep[]>();

  constructor(readonly options: VppParticipantOptions) {}

  /** Its participant entry in the market: dispatched to its award, so its unmatched rest commits nothing. */
  participant(deposit: number): Participant {
    return { id: this.options.id, microgrid: this.options.microgrid, deposit, dispatchable: true };
  }

  /** The DERs and loads it bids for (member id → its participant id), for the agents to leave out. */
  get biddenBy(): ReadonlyMap<string, string> {
    return new Map(this.options.members.map((m) => [m.id, this.options.id]));
  }

  /** The market whose awards it follows (the one its orders go to). */
  connect(market: MarketController): void {
    this.market = market;
  }

  /** The agents' bidder with the VPP's orders added. */
  bidder(agents: Bidder): Bidder {
    return (state, intervalStart_s, ctx) => [
      ...agents(state, intervalStart_s, ctx),
      ...this.orders(intervalStart_s, state.t_s, ctx.config),
    ];
  }

  /** Its orders for the interval starting at `intervalStart_s`, from data stamped before its gate closure. */
  orders(intervalStart_s: number, t_s: number, config: MarketConfig): Order[] {
    const { members, startHour } = this.options;
    const gate = intervalStart_s - config.gateClosure_s;
    const prices = bidPrices(config, this.options.priceStep, members);
    const bid = intervalBid(members, this.history.closedAt(gate), {
      startHour,
      from_s: intervalStart_s,
      interval_s: config.interval_s,
      prices,
    });
    const curve = withReserve(bid.curve, bid.limits, this.options.reserve_mw ?? 0);
    this.bids.set(intervalStart_s, curve);
    return ordersFromCurve(curve, {
      participant: this.options.id,
      intervalStart_s,
      hours: config.interval_s / 3600,
      t_s,
    });
  }

  /** Its award for the interval starting at `intervalStart_s`, Wh (undefined: not cleared). */
  awardOf(
    intervalStart_s: number,
  ): { award_wh: number; sold_wh: number; bought_wh: number; price: number } | undefined {
    const record = this.recordOf(intervalStart_s);
    if (!record?.result) return undefined;
    let sold = 0;
    let bought = 0;
    for (const f of record.result.fills)
      if (f.participant === this.options.id) {
        if (f.side === 'sell') sold += f.filled_wh;
        else bought += f.filled_wh;
      }
    const price =
      record.result.prices.find((p) => p.microgrid === this.options.microgrid)?.price ?? Number.NaN;
    return { award_wh: sold - bought, sold_wh: sold, bought_wh: bought, price };
  }

  /** The VPP controller's target at t: its award for the interval holding t, as average MW. */
  readonly target = (t_s: number): number | undefined => {
    if (!this.market) return undefined;
    const interval = this.market.config.interval_s;
    const award = this.awardOf(Math.floor((t_s + 1e-9) / interval) * interval);
    return award === undefined ? undefined : award.award_wh / 1e6 / (interval / 3600);
  };

  /** Sees every state of the run: samples the members for its forecasts, integrates what they deliver. */
  observe(state: Readonly<TwinState>): void {
    const t = state.t_s;
    const statuses = statusesFrom(this.options.members, state);
    if (t - this.lastSample >= this.options.sample_s - 1e-9) {
      this.lastSample = t;
      for (const m of this.options.members) {
        const s = statuses.get(m.id);
        if (s?.p_mw !== undefined) this.history.record(m.id, t, s.p_mw, { soc: s.soc, online: s.online });
      }
    }
    const interval = this.market?.config.interval_s;
    const dt = this.lastT === undefined ? 0 : t - this.lastT;
    this.lastT = t;
    if (!interval || dt <= 0) return;
    let p = 0;
    for (const s of statuses.values()) if (s.online) p += s.p_mw ?? 0;
    // The step that ends at t covered (t − dt, t]: it belongs to the interval holding its middle.
    const start = Math.floor((t - dt / 2) / interval) * interval;
    this.delivered.set(start, (this.delivered.get(start) ?? 0) + (p * 1e6 * dt) / 3600);
  }

  /** The delivery of the interval starting at `start` (undefined when it was not cleared or not run). */
  deliveryOf(start: number): VppDelivery | undefined {
    const award = this.awardOf(start);
    const delivered = this.delivered.get(start);
    if (!award || delivered === undefined) return undefined;
    const error = Math.abs(delivered - award.award_wh) / Math.max(Math.abs(award.award_wh), ERROR_FLOOR_WH);
    return { intervalStart_s: start, ...award, delivered_wh: delivered, error };
  }

  private recordOf(start: number): IntervalRecord | undefined {
    const h = this.market?.history ?? [];
    for (let i = h.length - 1; i >= 0; i--) if (h[i].intervalStart_s === start) return h[i];
    return undefined;
  }
}

/**
 * The curve with `reserve_mw` of upward flexibility held back: no offer above Σ pmax − reserve
 * (what runs at the lowest price is offered whatever the reserve).
 */
export function withReserve(
  curve: readonly BidStep[],
  limits: readonly { pmax_mw: number }[],
  reserve_mw: number,
): BidStep[] {
  if (reserve_mw <= 0 || curve.length === 0) return [...curve];
  const cap = Math.max(limits.reduce((x, l) => x + l.pmax_mw, 0) - reserve_mw, curve[0]!.quantity_mw);
  return curve.map((s) => ({ price_per_mwh: s.price_per_mwh, quantity_mw: Math.min(s.quantity_mw, cap) }));
}

/** The prices a bid curve is sampled at: the floor to the cap every `step`, and each member's marginal cost. */
export function bidPrices(
  config: Pick<MarketConfig, 'priceFloor' | 'priceCap'>,
  step: number,
  members: readonly { b: number }[],
): number[] {
  const { priceFloor: lo, priceCap: hi } = config;
  const prices = new Set<number>();
  for (let p = lo; p <= hi; p += step) prices.add(p);
  prices.add(hi);
  for (const m of members) prices.add(Math.min(hi, Math.max(lo, Math.ceil(m.b))));
  return [...prices].sort((a, b) => a - b);
}

/**
 * Limit orders that give, at every clearing price π, the net sale the curve has at its last price
 * at or below π (`awardAt`). Levels are whole Wh, truncated toward zero (never offering more than
 * the curve). With prices λ_0 < … < λ_K and levels Q_k:
 * - Q_0 > 0 is sold at λ_0 (it runs whatever the price);
 * - each rise Q_k − Q_{k−1} first gives up buying (a buy at λ_k − 1: bought only below λ_k),
 *   the rest is a sale at λ_k;
 * - Q_K < 0 is bought at λ_K whatever the price (storage that must charge).
 * The buys sit below every sale, so the participant's own orders never cross.
 */
export function ordersFromCurve(
  curve: readonly BidStep[],
  o: { participant: string; intervalStart_s: number; hours: number; t_s: number },
): Order[] {
  const orders: Order[] = [];
  const add = (side: Order['side'], qty_wh: number, price: number, tag: string) => {
    if (qty_wh > 0)
      orders.push({
        id: `${o.participant}/${tag}@${o.intervalStart_s}`,
        participant: o.participant,
        side,
        qty_wh,
        price,
        t_s: o.t_s,
      });
  };
  const level = (s: BidStep) => Math.trunc(s.quantity_mw * 1e6 * o.hours);
  if (curve.length === 0) return orders;
  let previous = level(curve[0]!);
  add('sell', previous, curve[0]!.price_per_mwh, `sell-${curve[0]!.price_per_mwh}`);
  for (const step of curve.slice(1)) {
    const q = level(step);
    const rise = q - previous;
    if (rise > 0) {
      const givenUp = Math.min(rise, Math.max(0, -previous));
      add('buy', givenUp, step.price_per_mwh - 1, `buy-${step.price_per_mwh - 1}`);
      add('sell', rise - givenUp, step.price_per_mwh, `sell-${step.price_per_mwh}`);
    }
    previous = Math.max(previous, q);
  }
  const last = curve[curve.length - 1]!;
  add('buy', -previous, last.price_per_mwh, `buy-${last.price_per_mwh}`);
  return orders;
}

/** The scenario's VPP when its market section names it: the run's VPP and its market participant. */
export interface MarketVpp {
  run: ScenarioVppRun;
  participant: VppMarketParticipant;
}

/**
 * The VPP a scenario's `market: { vpp: { id } }` names, built for the run with its award as target.
 * Refuses, with the scenario's file, line and JSON path: a VPP id that is not the scenario's VPP, a
 * load member (its delivery could not be measured), a VPP whose members are not all in one microgrid, an id another participant already has, and a
 * member the market would also bid or dispatch (`dispatch`, `agents.byId`).
 */
export async function marketVppOf(
  scenario: Scenario,
  catalog: TwinCatalog,
  lineOf: (path: YamlPath) => number | undefined,
): Promise<MarketVpp> {
  const section = scenario.market!.vpp!;
  const fail = (reason: string, path: (string | number)[]): never => {
    throw new ScenarioError(reason, scenario.file, lineOf(path), pointerOf(path));
  };
  let participant: VppMarketParticipant | undefined;
  const run = (await scenarioVppRun(scenario, { award: (t_s) => participant?.target(t_s) }))!;
  const { vpp } = run;
  if (section.id !== vpp.id)
    fail(`unknown VPP '${section.id}': the scenario's VPP (its vpp: section) is '${vpp.id}'`, [
      'market',
      'vpp',
      'id',
    ]);
  const load = vpp.members.find((m) => m.kind === 'load');
  if (load)
    fail(
      `VPP '${vpp.id}' holds load '${load.id}': a load's curtailment is not in the twin's published state, so its delivery in the market could not be measured (market VPPs take DER members only)`,
      ['market', 'vpp', 'id'],
    );
  const microgrids = new Set(vpp.members.map((m) => m.microgrid ?? '(no microgrid)'));
  if (microgrids.size !== 1 || microgrids.has('(no microgrid)'))
    fail(
      `VPP '${vpp.id}' has members in ${[...microgrids].join(', ')}: a market participant sits in one microgrid (the clearing's node)`,
      ['market', 'vpp', 'id'],
    );
  const taken =
    catalog.ders.some((d) => d.id === vpp.id) || catalog.microgrids.some((m) => `load:${m.id}` === vpp.id);
  if (taken)
    fail(`'${vpp.id}' is already a participant of the market (a DER or a microgrid's loads)`, [
      'market',
      'vpp',
      'id',
    ]);
  const members = new Set(vpp.members.map((m) => m.id));
  (scenario.market!.dispatch ?? []).forEach((id, i) => {
    if (members.has(id))
      fail(
        `DER '${id}' is a member of VPP '${vpp.id}', which dispatches it to its award: the market may not dispatch it too`,
        ['market', 'dispatch', i],
      );
  });
  for (const [id, own] of Object.entries(scenario.market!.agents?.byId ?? {}))
    if (members.has(id) && own.trade !== false)
      fail(
        `DER '${id}' is a member of VPP '${vpp.id}', which bids for it: the agents leave it out (write trade: false or remove it)`,
        ['market', 'agents', 'byId', id],
      );
  participant = new VppMarketParticipant({
    id: vpp.id,
    microgrid: [...microgrids][0]!,
    members: vpp.members,
    startHour: vpp.startHour,
    priceStep: section.price_step,
    reserve_mw: section.reserve_mw,
    sample_s: vpp.controller.period_s,
  });
  return { run, participant };
}
