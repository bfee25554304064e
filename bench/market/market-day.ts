/**
 * A market day in `simulate` (docs/market.md, "A market day in simulate"): the glue between a
 * scenario's `market:` section and the market room. market/ may import only the twin's contract, and
 * the twin imports nothing, so the pieces meet here (bench/ may use both): the scenario's data becomes
 * a `MarketController` with per-DER bidding agents, and every state of the run is checked against what
 * was cleared — each interval's FID energy against the cleared exchange, each shortfall with the
 * constraint that caused it.
 */

import { derAgents, derParticipants, flexLoads } from '../../market/agents.ts';
import { type IntervalRecord, MarketController } from '../../market/controller.ts';
import { DEFAULT_MARKET_CONFIG } from '../../market/orders.ts';
import type { TwinState } from '../../twin/api.ts';
import type { TwinCatalog } from '../../twin/control/contract.ts';
import type { Scenario, ScenarioMarket } from '../../twin/scenario/load.ts';
import { readScenarioFile, ScenarioError } from '../../twin/scenario/load.ts';
import { buildScenarioTwin } from '../../twin/scenario/runner.ts';
import { pathOfPointer, readYaml, type YamlPath } from '../../twin/yaml-source.ts';
import type { PointSink } from '../recording/schema.ts';
import { type MarketVpp, marketVppOf, type VppDelivery } from '../vpp/market.ts';
import { clearingPoints, fidError, fidPoint } from './market-points.ts';

/**
 * Deposit of every participant, micro-units, unless `market.settlement.deposits` names its own: what
 * the book admits orders against and what the settlement locks on the chain (10⁶ money units: no
 * agent's order is refused for it).
 */
export const MARKET_DEPOSIT = 1e12;

/** One FID over one interval: what was cleared against what it carried. */
export interface FidDelivery {
  fid: string;
  /** Cleared exchange A→B, Wh. */
  cleared_wh: number;
  /** Energy the converter carried A→B over the interval, Wh. */
  delivered_wh: number;
  /** |delivered − cleared| / reference (the cleared energy, or the FID's rated energy when less). */
  error: number;
  /** Set when the FID missed the tolerance: what stopped it. */
  constraint?: string;
}

export interface IntervalDelivery {
  intervalStart_s: number;
  /** Each microgrid's clearing price (money units per MWh). */
  prices: Record<string, number>;
  volume_wh: number;
  fids: FidDelivery[];
  /**
   * What the network could not carry, with the constraint: FIDs at their rating, microgrids at their
   * island-reserve limit.
   */
  binding: string[];
  /** Why the interval was not cleared normally (ledger down). */
  note?: string;
}

export interface MarketDayReport {
  interval_s: number;
  tolerance: number;
  /** Intervals whose delivery was checked (cleared, and wholly inside the run). */
  intervals: IntervalDelivery[];
  /** Intervals where some FID missed the tolerance. */
  shortfalls: { intervalStart_s: number; fid: string; constraint: string }[];
  shortfallFraction: number;
  /** Largest relative delivery error of any FID in any checked interval. */
  maxError: number;
  /** Σ |cleared exchange| over the day, Wh. */
  exchanged_wh: number;
  /** Σ cleared volume over the day, Wh. */
  volume_wh: number;
  /** The scenario's VPP as one participant (market.vpp): its award and delivery per interval. */
  vpp?: {
    id: string;
    /** Its members, left out of the per-DER agents (it bids for them). */
    members: string[];
    intervals: VppDelivery[];
    /** Largest |delivered − award| / award of any interval. */
    maxError: number;
  };
}

/** Builds the market of a scenario's `market:` section and checks the run's deliveries. */
export class MarketDay {
  readonly controller: MarketController;
  readonly section: ScenarioMarket;
  readonly catalog: TwinCatalog;
  private readonly fids: string[];
  /** Per interval start: energy carried A→B per FID (Wh), steps with the converter stopped. */
  private readonly carried = new Map<number, { wh: Map<string, number>; stopped: Map<string, number> }>();
  /** Per FID: the market's set-point in force now (MW), for the stopped-converter check. */
  private readonly scheduled = new Map<string, number>();
  private lastT?: number;
  private refusedSeen = 0;
  private readonly refusals = new Map<number, string[]>();
  private endT = 0;
  /** Points written so far: history records, and the intervals whose FID delivery was written. */
  private recordsWritten = 0;
  private fidsWrittenUntil = -Infinity;
  private sink?: { point: PointSink; timeOf: (t_s: number) => bigint };

  /** The scenario's VPP when it takes part as one participant (market.vpp). */
  readonly vpp?: MarketVpp;
  private vppWrittenUntil = -Infinity;

  /**
   * `vpp`: the scenario's VPP as a participant (marketVppOf); `lineOf`: lines of the scenario file
   * for error messages; `ledgerLive`: whether the ledger can make progress
   * (MarketControllerOptions.ledgerLive).
   */
  constructor(
    scenario: Scenario,
    catalog: TwinCatalog,
    options: {
      vpp?: MarketVpp;
      lineOf?: (path: YamlPath) => number | undefined;
      ledgerLive?: () => boolean;
    } = {},
  ) {
    const section = scenario.market;
    if (!section) throw new TypeError('MarketDay: the scenario has no market section');
    this.section = section;
    this.catalog = catalog;
    this.vpp = options.vpp;
    const fail = (reason: string, path: string): never => {
      throw new ScenarioError(reason, scenario.file, options.lineOf?.(pathOfPointer(path)), path);
    };
    this.fids = section.fids ?? catalog.fids.map((f) => f.id);
    this.fids.forEach((id, i) => {
      if (!catalog.fids.some((f) => f.id === id)) fail(`unknown FID '${id}'`, `/market/fids/${i}`);
    });
    (section.dispatch ?? []).forEach((id, i) => {
      if (!catalog.ders.some((d) => d.id === id)) fail(`unknown DER '${id}'`, `/market/dispatch/${i}`);
    });
    for (const id of Object.keys(section.agents?.byId ?? {}))
      if (!catalog.ders.some((d) => d.id === id)) fail(`unknown DER '${id}'`, `/market/agents/byId/${id}`);
    // A VPP's members are bid by the VPP alone: the agents leave them out.
    const vppBidder = this.vpp?.participant;
    const agents = { ...section.agents, ...(vppBidder ? { biddenBy: vppBidder.biddenBy } : {}) };
    const config = {
      ...DEFAULT_MARKET_CONFIG,
      interval_s: section.interval_s,
      gateClosure_s: section.gateClosure_s,
      ...(section.pricing ? { pricing: section.pricing } : {}),
      ...(section.retailPrice !== undefined ? { retailPrice: section.retailPrice } : {}),
      ...(section.feedInPrice !== undefined ? { feedInPrice: section.feedInPrice } : {}),
      ...(section.priceCap !== undefined ? { priceCap: section.priceCap } : {}),
    };
    try {
      const participants = derParticipants(catalog, agents, MARKET_DEPOSIT);
      // Forecasts on the day's shapes (the scenario's start hour and load profile).
      const forecast = {
        startHour: scenario.startHour ?? scenario.twin?.startHour ?? 0,
        loadProfile: scenario.twin?.loads?.default?.profile,
      };
      const agentsBidder = derAgents({ ...agents, forecast });
      if (vppBidder) participants.set(vppBidder.options.id, vppBidder.participant(MARKET_DEPOSIT));
      (agents.passive ?? []).forEach((id, i) => {
        if (!participants.has(id)) fail(`unknown participant '${id}'`, `/market/agents/passive/${i}`);
      });
      for (const [id, deposit] of Object.entries(section.settlement?.deposits ?? {})) {
        const p = participants.get(id);
        if (!p) fail(`unknown participant '${id}'`, `/market/settlement/deposits/${id}`);
        else participants.set(id, { ...p, deposit });
      }
      this.controller = new MarketController({
        fids: this.fids,
        participants,
        bidder: vppBidder
          ? Object.assign(vppBidder.bidder(agentsBidder), { observe: agentsBidder.observe })
          : agentsBidder,
        dispatch: section.dispatch,
        curtail: flexLoads(catalog, agents.biddenBy),
        ledgerLive: options.ledgerLive,
        // The island reserve's net load on the same forecast as the agents'.
        reserve: section.reserve === false ? false : { ...section.reserve, forecast },
        fidRamp_s: section.fidRamp_s,
        config,
      });
    } catch (err) {
      if (err instanceof ScenarioError) throw err;
      throw new ScenarioError((err as Error).message, scenario.file, options.lineOf?.(['market']), '/market');
    }
    vppBidder?.connect(this.controller);
  }

  /** What the run says about who bids for what (the VPP's members are left out of the agents). */
  notes(): string[] {
    const v = this.vpp;
    if (!v) return [];
    const members = v.participant.options.members.map((m) => m.id);
    return [
      `VPP '${v.participant.options.id}' bids as one participant in ${v.participant.options.microgrid} for ${members.join(', ')}: the market's agents leave them out`,
    ];
  }

  /** Sees every state of the run (after the step): integrates each FID's transfer per interval. */
  readonly onStep = (state: TwinState): void => {
    this.vpp?.participant.observe(state);
    const t = state.t_s;
    const dt = this.lastT === undefined ? this.catalog.dt_s : t - this.lastT;
    this.lastT = t;
    this.endT = t;
    const interval = this.section.interval_s;
    // The step that ends at t covered (t − dt, t]: it belongs to the interval holding its middle.
    const start = Math.floor((t - dt / 2) / interval) * interval;
    let bucket = this.carried.get(start);
    if (!bucket) {
      bucket = { wh: new Map(), stopped: new Map() };
      this.carried.set(start, bucket);
    }
    const schedule = this.deliveredRecord(start)?.actions ?? [];
    for (const a of schedule) if (a.kind === 'fid-setpoint') this.scheduled.set(a.id, a.p_mw);
    for (const id of this.fids) {
      const s = state.fids?.[id];
      if (!s) continue;
      const transfer = transferOf(s);
      bucket.wh.set(id, (bucket.wh.get(id) ?? 0) + (transfer * 1e6 * dt) / 3600);
      if (Math.abs(transfer) < 1e-9 && Math.abs(this.scheduled.get(id) ?? 0) > 1e-9)
        bucket.stopped.set(id, (bucket.stopped.get(id) ?? 0) + dt);
    }
    const refused = this.controller.refusedActions;
    if (refused.length > this.refusedSeen) {
      const list = this.refusals.get(start) ?? [];
      for (const r of refused.slice(this.refusedSeen)) list.push(r.message);
      this.refusals.set(start, list);
      this.refusedSeen = refused.length;
    }
    if (this.sink) this.writePoints(t, this.sink.point, this.sink.timeOf);
  };

  /**
   * Writes the market's points (docs/influx-schema.md): each clearing as it happens, stamped at its
   * interval's start; each FID's delivery once its interval is over, stamped at the interval's end.
   */
  readonly recordPoints = (
    _state: TwinState | undefined,
    point: PointSink,
    timeOf: (t_s: number) => bigint,
  ): void => {
    // Written from onStep, once the step's energy is counted (the recorder sees the state first).
    this.sink = { point, timeOf };
  };

  private writePoints(t_s: number, point: PointSink, timeOf: (t_s: number) => bigint): void {
    const history = this.controller.history;
    const microgrids = this.catalog.microgrids.map((m) => m.id);
    for (; this.recordsWritten < history.length; this.recordsWritten++) {
      const record = history[this.recordsWritten];
      clearingPoints(
        { ...record, refused: record.refused.length },
        microgrids,
        point,
        timeOf(record.intervalStart_s),
      );
    }
    // Intervals over by now (the one holding this step's start is still running).
    const interval = this.section.interval_s;
    const current = Math.floor((t_s + 1e-6) / interval) * interval;
    this.writeVppPoints(current, point, timeOf);
    if (current - interval <= this.fidsWrittenUntil) return;
    this.fidsWrittenUntil = current - interval;
    const done = this.deliveryOf(current - interval);
    if (!done) return;
    for (const d of done.fids) {
      const binding = done.binding.find((m) => m.startsWith(`${d.fid} `));
      fidPoint(
        {
          ...d,
          binding: binding !== undefined,
          shortfall: d.constraint !== undefined,
          constraint: d.constraint ?? binding ?? '',
        },
        point,
        timeOf(current),
      );
    }
  }

  /** The VPP's award and delivery of each interval, once it is over, stamped at its end. */
  private writeVppPoints(current: number, point: PointSink, timeOf: (t_s: number) => bigint): void {
    const v = this.vpp?.participant;
    const interval = this.section.interval_s;
    if (!v || current - interval <= this.vppWrittenUntil) return;
    this.vppWrittenUntil = current - interval;
    const d = v.deliveryOf(current - interval);
    if (!d) return;
    point(
      'market_vpp',
      { vpp: v.options.id, microgrid: v.options.microgrid },
      {
        award_wh: d.award_wh,
        sold_wh: d.sold_wh,
        bought_wh: d.bought_wh,
        price: d.price,
        delivered_wh: d.delivered_wh,
        error: d.error,
      },
      timeOf(current),
    );
  }

  /** The record delivered during the interval starting at `start`. */
  private deliveredRecord(start: number): IntervalRecord | undefined {
    const h = this.controller.history;
    for (let i = h.length - 1; i >= 0; i--) if (h[i].intervalStart_s === start) return h[i];
    return undefined;
  }

  /** The day's delivery report: every interval cleared and wholly inside the run. */
  report(): MarketDayReport {
    const interval = this.section.interval_s;
    const tolerance = this.section.tolerance;
    const intervals: IntervalDelivery[] = [];
    const shortfalls: MarketDayReport['shortfalls'] = [];
    let maxError = 0;
    let exchanged = 0;
    let volume = 0;
    for (const record of this.controller.history) {
      const d =
        record.intervalStart_s + interval <= this.endT + 1e-6
          ? this.deliveryOf(record.intervalStart_s)
          : undefined;
      if (!d) continue;
      for (const f of d.fids) {
        maxError = Math.max(maxError, f.error);
        exchanged += Math.abs(f.cleared_wh);
        if (f.constraint)
          shortfalls.push({ intervalStart_s: d.intervalStart_s, fid: f.fid, constraint: f.constraint });
      }
      volume += d.volume_wh;
      intervals.push(d);
    }
    const short = new Set(shortfalls.map((s) => s.intervalStart_s)).size;
    const v = this.vpp?.participant;
    const vppIntervals = v
      ? intervals.map((d) => v.deliveryOf(d.intervalStart_s)).filter((d) => d !== undefined)
      : [];
    return {
      interval_s: interval,
      tolerance,
      intervals,
      shortfalls,
      shortfallFraction: intervals.length > 0 ? short / intervals.length : 0,
      maxError,
      exchanged_wh: exchanged,
      volume_wh: volume,
      ...(v
        ? {
            vpp: {
              id: v.options.id,
              members: v.options.members.map((m) => m.id),
              intervals: vppIntervals,
              maxError: Math.max(0, ...vppIntervals.map((d) => d.error)),
            },
          }
        : {}),
    };
  }

  /** How the interval starting at `start` was delivered; undefined when it was not cleared. */
  private deliveryOf(start: number): IntervalDelivery | undefined {
    const record = this.deliveredRecord(start);
    const bucket = this.carried.get(start);
    const result = record?.result;
    if (!record || !bucket || !result) return undefined;
    const fids: FidDelivery[] = result.links.map((link) => {
      const rating = this.catalog.fids.find((f) => f.id === link.id)?.rating_mw ?? 0;
      const delivered = bucket.wh.get(link.id) ?? 0;
      const error = fidError(link.flow_wh, delivered, rating, this.section.interval_s);
      const d: FidDelivery = { fid: link.id, cleared_wh: link.flow_wh, delivered_wh: delivered, error };
      if (error > this.section.tolerance)
        d.constraint = this.constraintOf(start, link.id, delivered, link.flow_wh);
      return d;
    });
    return {
      intervalStart_s: start,
      prices: Object.fromEntries(result.prices.map((p) => [p.microgrid, p.price])),
      volume_wh: result.volume_wh,
      fids,
      binding: [...result.links, ...result.limits, ...result.reserves]
        .filter((l) => l.binding)
        .map((l) => l.message ?? ''),
      ...(record.note ? { note: record.note } : {}),
    };
  }

  /** What kept a FID from carrying its schedule over an interval. */
  private constraintOf(start: number, fid: string, delivered: number, cleared: number): string {
    const carried = `${fid} carried ${Math.round(delivered)} Wh of ${cleared} Wh cleared`;
    const refused = this.refusals.get(start)?.filter((m) => m.includes(fid));
    if (refused?.length) return `${carried}: set-point refused (${refused[0]})`;
    const stopped = this.carried.get(start)?.stopped.get(fid) ?? 0;
    if (stopped > 0)
      return `${carried}: converter stopped for ${stopped.toFixed(1)} s (a side lost voltage or the FID is out of service)`;
    return `${carried}: the converter's own control (ramp rate, frequency support) moved it off the schedule`;
  }
}

/**
 * The converter's transfer A→B (MW) from what each side sees (twin/fid/fid.ts: the sending side also
 * supplies the losses, so the receiving side sees the transfer itself).
 */
export function transferOf(s: { p_a_mw: number; p_b_mw: number }): number {
  return s.p_a_mw > 0 ? -s.p_a_mw : s.p_b_mw;
}

/** The market day of a scenario with a `market:` section (undefined without one). */
export async function marketDayOf(scenario: Scenario, dt_s: number): Promise<MarketDay | undefined> {
  if (!scenario.market) return undefined;
  // The catalog of the twin the run builds (same grid, same scenario settings), without controllers.
  const twin = await buildScenarioTwin(scenario, dt_s);
  const catalog = twin.catalog();
  const { lineOf } = readYaml(await readScenarioFile(scenario.file));
  const vpp = scenario.market.vpp ? await marketVppOf(scenario, catalog, lineOf) : undefined;
  return new MarketDay(scenario, catalog, { vpp, lineOf });
}

/** The report's lines for a person: one per shortfall, then the day's figures. */
export function marketDayLines(r: MarketDayReport): string[] {
  const lines = r.shortfalls.map((s) => `  SHORTFALL  interval at ${s.intervalStart_s} s: ${s.constraint}`);
  const ok = r.shortfallFraction < SHORTFALL_LIMIT;
  if (r.vpp) {
    const energy = (f: (d: VppDelivery) => number) => r.vpp!.intervals.reduce((x, d) => x + f(d), 0) / 1e3;
    lines.push(
      `  INFO  VPP '${r.vpp.id}' in the market (bids for ${r.vpp.members.join(', ')}; the agents leave them out): ${r.vpp.intervals.length} intervals, awarded ${energy((d) => d.award_wh).toFixed(1)} kWh, delivered ${energy((d) => d.delivered_wh).toFixed(1)} kWh, largest interval error ${(r.vpp.maxError * 100).toFixed(2)} %`,
    );
  }
  lines.push(
    `  ${ok ? 'PASS' : 'FAIL'}  market delivery: ${r.intervals.length} intervals, FID energy within ${(r.tolerance * 100).toFixed(1)} % of the cleared exchange in all but ${r.shortfalls.length} (${(r.shortfallFraction * 100).toFixed(2)} % of the day, limit ${SHORTFALL_LIMIT * 100} %); largest error ${(r.maxError * 100).toFixed(2)} %; ${(r.exchanged_wh / 1e3).toFixed(1)} kWh exchanged between microgrids, ${(r.volume_wh / 1e3).toFixed(1)} kWh traded`,
  );
  return lines;
}

/** Intervals with a shortfall must stay below this fraction of the day (issue 20, "Physical delivery"). */
export const SHORTFALL_LIMIT = 0.02;
