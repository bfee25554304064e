/**
 * The VPP as one participant of the live market (docs/market.md, "The VPP as a participant", on the
 * live bench): the run config's `module: market` with a `vpp:` option hosts the market and the VPP
 * in one controller, so the award the market clears is the VPP's target in the same worker, on the
 * same states (the bench hosts each controller in a worker of its own, and the VPP's target must
 * not wait for a message between two of them). The participant (bid, award → target, measured
 * delivery) is the one `simulate` uses (./market.ts).
 */
import { resolve } from 'node:path';
import type { LiveMarketController } from '../../market/live.ts';
import type { TwinEvent, TwinState } from '../../twin/api.ts';
import type {
  ActuatorRef,
  Controller,
  ControllerAction,
  ControllerTelemetry,
  RefusedAction,
  TwinCatalog,
} from '../../twin/control/contract.ts';
import { VppController } from '../../vpp/controller.ts';
import { bindPortfolio, type ControlStructure, loadPortfolio, VppFileError } from '../../vpp/portfolio.ts';
import { VppMarketParticipant } from './market.ts';

const KNOWN = ['portfolio', 'vpp', 'price_step', 'reserve_mw', 'structure', 'period_s', 'startHour'];
const STRUCTURES: readonly ControlStructure[] = ['central', 'admm', 'consensus'];

/** The VPP of the market's `vpp:` option: its controller (target: its award) and its participant. */
export interface LiveVpp {
  controller: VppController;
  participant: VppMarketParticipant;
}

/**
 * Reads the market's `vpp:` option: `{ portfolio, vpp?, price_step?, reserve_mw?, structure?,
 * period_s?, startHour? }`. Throws a TypeError naming the option (`<id>: options.vpp.<key> …`) for a
 * VPP that cannot be one participant: unknown keys, a member that is a load (its delivery could not
 * be metered) or outside one microgrid, a member the market dispatches, an id another participant has.
 */
export function liveVppOf(
  raw: unknown,
  ctx: { id: string; catalog: TwinCatalog; dispatch: readonly string[] },
): LiveVpp {
  const fail = (path: string, why: string): never => {
    throw new TypeError(`${ctx.id}: options.vpp${path} ${why}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    fail('', `must be { ${KNOWN.join(', ')} } (docs/market.md, "The VPP as a participant")`);
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o))
    if (!KNOWN.includes(key)) fail(`.${key}`, `is unknown (${KNOWN.join(', ')})`);
  if (typeof o.portfolio !== 'string' || o.portfolio === '')
    fail('.portfolio', 'must be a portfolio file (docs/vpp.md)');
  let bound: ReturnType<typeof bindPortfolio>;
  try {
    bound = bindPortfolio(loadPortfolio(resolve(o.portfolio as string)), ctx.catalog);
  } catch (err) {
    if (err instanceof VppFileError) fail('.portfolio', `: ${err.message}`);
    throw err;
  }
  const chosen = o.vpp === undefined ? bound[0] : bound.find((v) => v.id === o.vpp);
  if (!chosen)
    fail('.vpp', `'${String(o.vpp)}' is not in ${o.portfolio} (${bound.map((v) => v.id).join(', ')})`);
  const vpp = chosen!;
  const positive = (key: string, fallback: number): number => {
    const v = o[key] ?? fallback;
    if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) fail(`.${key}`, 'must be a positive number');
    return v as number;
  };
  const priceStep = positive('price_step', 10);
  const period_s = positive('period_s', vpp.period_s);
  const reserve = o.reserve_mw ?? 0;
  if (!(typeof reserve === 'number' && reserve >= 0 && Number.isFinite(reserve)))
    fail('.reserve_mw', 'must be a number of MW ≥ 0');
  if (o.structure !== undefined && !STRUCTURES.includes(o.structure as ControlStructure))
    fail('.structure', `must be one of ${STRUCTURES.join(', ')}`);
  const startHour = o.startHour ?? 12;
  if (!(typeof startHour === 'number' && startHour >= 0 && startHour < 24))
    fail('.startHour', 'must be an hour of day within 0…24');
  const load = vpp.members.find((m) => m.kind === 'load');
  if (load)
    fail(
      '',
      `'${vpp.id}' holds load '${load.id}': a load's curtailment is not in the twin's published state, so its delivery could not be metered (market VPPs take DER members only)`,
    );
  const microgrids = new Set(vpp.members.map((m) => m.microgrid ?? '(no microgrid)'));
  if (microgrids.size !== 1 || microgrids.has('(no microgrid)'))
    fail(
      '',
      `'${vpp.id}' has members in ${[...microgrids].join(', ')}: a market participant sits in one microgrid`,
    );
  if (
    ctx.catalog.ders.some((d) => d.id === vpp.id) ||
    ctx.catalog.microgrids.some((m) => `load:${m.id}` === vpp.id)
  )
    fail('', `'${vpp.id}' is already a participant of the market (a DER or a microgrid's loads)`);
  const both = vpp.members.find((m) => ctx.dispatch.includes(m.id));
  if (both)
    fail(
      '',
      `member '${both.id}' is also in options.dispatch: the VPP dispatches it to its award, the market may not too`,
    );
  const participant = new VppMarketParticipant({
    id: vpp.id,
    microgrid: [...microgrids][0]!,
    members: vpp.members,
    startHour: startHour as number,
    priceStep,
    reserve_mw: reserve as number,
    sample_s: period_s,
  });
  const controller = new VppController({
    vpp: { ...vpp, period_s },
    target: participant.target,
    startHour: startHour as number,
    ...(o.structure === undefined ? {} : { structure: o.structure as ControlStructure }),
    // A market award is a commitment: short of it, deliver as much as the members can.
    clampTarget: true,
  });
  return { controller, participant };
}

/**
 * The live market with the VPP bidding in it, as one hosted controller: every `sample_s` the
 * participant sees the state (its forecasts, its measured delivery) and the market decides; every
 * VPP period the VPP dispatches its members to the award of the interval running. Its telemetry is
 * the market's and the VPP's records (kinds `market` and `vpp`), one per decision, in order.
 */
export class LiveMarketVpp implements Controller {
  readonly id: string;
  readonly period_s: number;
  readonly claims: readonly ActuatorRef[];
  private readonly queue: ControllerTelemetry[] = [];
  private vppSlot = Number.NaN;

  constructor(
    readonly market: LiveMarketController,
    readonly vpp: LiveVpp,
  ) {
    vpp.participant.connect(market.market);
    this.id = market.id;
    this.period_s = market.period_s;
    this.claims = [...market.claims, ...vpp.controller.claims];
    const ratio = vpp.controller.period_s / this.period_s;
    if (Math.abs(ratio - Math.round(ratio)) > 1e-9 || ratio < 1)
      throw new TypeError(
        `vpp: period_s ${vpp.controller.period_s} must be a whole multiple of the market's sample_s ${this.period_s}`,
      );
  }

  attach(catalog: TwinCatalog): void {
    this.market.attach(catalog);
    this.vpp.controller.attach(catalog);
  }

  decide(state: Readonly<TwinState>, actions: ControllerAction[]): void {
    this.vpp.participant.observe(state);
    this.market.decide(state, actions);
    const market = this.market.telemetry();
    if (market) {
      // A market record is the whole market: a newer one replaces one not yet read.
      const queued = this.queue.findIndex((t) => t.kind === market.kind);
      if (queued >= 0) this.queue.splice(queued, 1);
      this.queue.push(market);
    }
    const slot = Math.floor((state.t_s + 1e-6) / this.vpp.controller.period_s);
    if (slot === this.vppSlot) return;
    this.vppSlot = slot;
    this.vpp.controller.decide(state, actions);
    const vpp = this.vpp.controller.telemetry();
    if (vpp) this.queue.push(vpp);
  }

  feedback(refused: readonly RefusedAction[], events: readonly TwinEvent[]): void {
    const members = new Set(this.vpp.participant.options.members.map((m) => m.id));
    const ofVpp = (r: RefusedAction) =>
      (r.action.kind === 'der-setpoint' || r.action.kind === 'load-curtail') && members.has(r.action.id);
    this.market.feedback(
      refused.filter((r) => !ofVpp(r)),
      events,
    );
    this.vpp.controller.feedback(refused.filter(ofVpp));
  }

  telemetry(): ControllerTelemetry | undefined {
    return this.queue.shift();
  }

  detach(): void {
    this.market.detach();
  }
}
