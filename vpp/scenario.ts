/**
 * A scenario's `vpp:` section (docs/vpp.md, "In a scenario"): the portfolio (a file or inline), the
 * control structure, the period, the target (constant, hourly profile, or the award of the VPP's
 * bid at a price series) and the agents' communication network — turned into a `VppController` for
 * the run and the trackers of the `vpp-*` assertions.
 *
 * The section arrives schema-checked (twin/scenario/scenario.schema.json) as plain data; this room
 * sees neither the scenario loader nor the twin beyond its contract, so the bench hands over the
 * scenario's file, text and seed, and the catalog of the twin it built.
 */
import { dirname, resolve } from 'node:path';
import { isNode, LineCounter, parseDocument } from 'yaml';
import type { TwinState } from '../twin/api.ts';
import type { TwinCatalog } from '../twin/control/contract.ts';
import { memberLimits, statusesFrom } from './aggregate.ts';
import { awardAt, bidCurve, loadPriceSeries, PriceFileError } from './commercial.ts';
import { type CommsSettings, VppController, type VppStatus } from './controller.ts';
import {
  bindPortfolio,
  type ControlStructure,
  loadPortfolio,
  type Portfolio,
  parsePortfolio,
  VppFileError,
  type VppMember,
} from './portfolio.ts';

/** The section as the scenario schema admits it. */
export interface VppSection {
  portfolio: string | Record<string, unknown>;
  id?: string;
  structure?: ControlStructure;
  period_s?: number;
  /** `market: p2p`: the VPP's award in the scenario's P2P market (the market's section names it). */
  target: { mw?: number; profile_mw?: number[]; prices?: string; market?: 'p2p' };
  comms?: {
    loss?: number;
    latency_ms?: number;
    jitter_ms?: number;
    round_ms?: number;
    seed?: number;
    degree?: number;
    rewire?: number;
    gain?: 'default' | 'median';
    tolerance?: number;
    max_iterations?: number;
    resilient?: boolean;
    verify_reports?: boolean;
  };
}

/** An assertion of the scenario, as data. */
export type AssertionDecl = { type: string } & Record<string, unknown>;

/** What the `vpp-*` trackers report (the scenario's AssertionOutcome less its name and span). */
export interface VppAssertionTracker {
  update(state: Readonly<TwinState>): void;
  finish(state: Readonly<TwinState>): { passed: boolean; value?: number | string; detail: string };
}

/** A problem with the section: the file and line where it was written, and its JSON path. */
export class VppScenarioError extends Error {
  constructor(
    readonly reason: string,
    readonly file: string,
    readonly line?: number,
    readonly path?: string,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}${path ? ` (at ${path})` : ''}: ${reason}`);
    this.name = 'VppScenarioError';
  }
}

export interface ScenarioVppInput {
  section: VppSection;
  /** The scenario file (paths in the section are relative to it) and its text (line numbers). */
  file: string;
  text: string;
  seed: number;
  /** Hour of day at t = 0. @default 12 */
  startHour?: number;
  assertions: readonly AssertionDecl[];
  /**
   * The VPP's award in the run's P2P market as a target, MW (undefined before its first award),
   * when the bench runs a market the VPP bids into; a `target: { market: p2p }` needs it.
   */
  award?: (t_s: number) => number | undefined;
}

/** A VPP ready to attach to the run, and the trackers of its assertions. */
export interface ScenarioVpp {
  /** The VPP's id in its portfolio. */
  id: string;
  /** Hour of day at t = 0. */
  startHour: number;
  controller: VppController;
  members: readonly VppMember[];
  /** The tracker of a `vpp-*` assertion (undefined for any other type). */
  tracker(a: AssertionDecl): VppAssertionTracker | undefined;
}

/**
 * Reads the section's portfolio (file or inline) and binds it to the twin's catalog. Errors
 * (VppScenarioError, VppFileError) name the file and line: the portfolio file's for a file, the
 * scenario's for everything written in the scenario.
 */
export function scenarioVpp(input: ScenarioVppInput, catalog: TwinCatalog): ScenarioVpp {
  const { section, file, text } = input;
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter });
  const lineOf = (path: (string | number)[]): number | undefined => {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
      if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  const fail = (reason: string, path: (string | number)[]): never => {
    throw new VppScenarioError(reason, file, lineOf(path), `/${path.join('/')}`);
  };

  const portfolio: Portfolio =
    typeof section.portfolio === 'string'
      ? loadPortfolio(resolve(dirname(file), section.portfolio))
      : parsePortfolio(text, file, ['vpp', 'portfolio']);
  const bound = bindPortfolio(portfolio, catalog);
  const vpp = section.id === undefined ? bound[0] : bound.find((v) => v.id === section.id);
  if (!vpp)
    fail(`no vpp '${section.id}' in the portfolio (it has ${bound.map((v) => v.id).join(', ') || 'none'})`, [
      'vpp',
      'id',
    ]);
  const structure = section.structure ?? vpp!.structure;
  const period_s = section.period_s ?? vpp!.period_s;
  const startHour = input.startHour ?? 12;
  const members = vpp!.members.filter((m) => m.share === 1);
  if (members.length === 0)
    fail(`vpp '${vpp!.id}' holds no member whole (share 1): nothing to drive`, ['vpp']);

  if (section.target.market !== undefined && !input.award)
    fail(
      "target { market: p2p } is the VPP's award in the scenario's P2P market: the scenario's market: section must name this VPP (market: { vpp: { id: " +
        `${vpp!.id} } }), and the run must be one that runs the market (gridloop simulate)`,
      ['vpp', 'target', 'market'],
    );
  if (section.target.market === undefined && input.award)
    fail(
      `the market's vpp section names this VPP, so its target is its award: write target: { market: p2p }`,
      ['vpp', 'target'],
    );
  const target = input.award ?? targetOf(section.target, members, startHour, file, fail);
  const c = section.comms ?? {};
  const comms: CommsSettings = {
    seed: c.seed ?? input.seed,
    loss: c.loss,
    latency_ms: c.latency_ms,
    jitter_ms: c.jitter_ms,
    round_ms: c.round_ms,
    degree: c.degree,
    rewire: c.rewire,
    gain: c.gain,
    tolerance: c.tolerance,
    maxIterations: c.max_iterations,
    resilient: c.resilient,
    verifyReports: c.verify_reports,
  };
  if (c.degree !== undefined && c.degree >= members.length)
    fail(`degree ${c.degree} needs more than ${members.length} members`, ['vpp', 'comms', 'degree']);

  const decisions: DecisionRecord[] = [];
  const controller = new VppController({
    vpp: { ...vpp!, structure, period_s },
    target,
    startHour,
    comms,
    onDecision: (s) => decisions.push(recordOf(s)),
    // A market award is a commitment: short of it, deliver as much as the members can.
    clampTarget: input.award !== undefined,
  });

  input.assertions.forEach((a, i) => {
    if ((a.type === 'vpp-converges' || a.type === 'vpp-byzantine') && structure === 'central')
      fail(`'${a.type}' needs a distributed structure (admm or consensus); this VPP is central`, [
        'assertions',
        i,
        'type',
      ]);
  });

  return {
    id: vpp!.id,
    startHour,
    controller,
    members,
    tracker(a) {
      const inWindow = (t: number) =>
        t >= ((a.after as number | undefined) ?? 0) &&
        t <= ((a.until as number | undefined) ?? Number.POSITIVE_INFINITY);
      const mine = () => decisions.filter((d) => inWindow(d.t_s));
      switch (a.type) {
        case 'vpp-tracks-target':
          return trackingTracker(a.within_pct as number, members, target, controller.status);
        case 'vpp-converges':
          return convergenceTracker(a.max_iterations as number, a.min_loss as number | undefined, mine);
        case 'vpp-byzantine':
          return byzantineTracker(a.max_cost_change_pct as number, mine, structure);
        default:
          return undefined;
      }
    },
  };
}

/** The target function the section asks for. */
function targetOf(
  t: VppSection['target'],
  members: readonly VppMember[],
  startHour: number,
  file: string,
  fail: (reason: string, path: (string | number)[]) => never,
): (t_s: number) => number {
  const hourAt = (t_s: number) => (((startHour + t_s / 3600) % 24) + 24) % 24;
  if (t.mw !== undefined) {
    const mw = t.mw;
    return () => mw;
  }
  if (t.profile_mw !== undefined) {
    const profile = t.profile_mw;
    return (t_s) => profile[Math.floor(hourAt(t_s))]!;
  }
  let series: { hour: number; price_per_mwh: number }[] = [];
  try {
    series = loadPriceSeries(resolve(dirname(file), t.prices!));
  } catch (err) {
    if (err instanceof PriceFileError) fail(err.message, ['vpp', 'target', 'prices']);
    throw err;
  }
  // The award at each hour's price on the VPP's bid curve, members within their availability then
  // (storage over the hour from the middle of its band): what a price-taking VPP commits to.
  const awards = new Map<number, number>();
  return (t_s) => {
    const h = hourAt(t_s);
    let row = series[0]!;
    for (const r of series) if (r.hour <= h) row = r;
    let q = awards.get(row.hour);
    if (q === undefined) {
      const limits = members.map((m) => memberLimits(m, row.hour + 0.5, undefined, 1));
      q = awardAt(bidCurve(members, limits, [row.price_per_mwh]), row.price_per_mwh);
      awards.set(row.hour, q);
    }
    return q;
  };
}

/** What the trackers keep of each decision. */
interface DecisionRecord {
  t_s: number;
  ok: boolean;
  reason?: string;
  iterations?: number;
  loss: number;
  liar?: string;
  attacks: string[];
  cost: number;
  reference_cost: number;
  isolated: string[];
}

function recordOf(s: Readonly<VppStatus>): DecisionRecord {
  return {
    t_s: s.t_s,
    ok: s.ok,
    reason: s.reason,
    iterations: s.iterations,
    loss: s.comms?.loss ?? 0,
    liar: s.comms?.liar,
    attacks: s.comms?.attacks ?? [],
    cost: s.cost,
    reference_cost: s.reference_cost,
    isolated: [...s.isolated],
  };
}

/**
 * Energy delivered against energy asked for: the members' measured output (the twin's published
 * state, not the VPP's own report) and the target, both integrated over the steps of the window.
 */
function trackingTracker(
  within_pct: number,
  members: readonly VppMember[],
  target: (t_s: number) => number | undefined,
  status: Readonly<VppStatus>,
): VppAssertionTracker {
  let last: number | undefined;
  let asked = 0;
  let delivered = 0;
  let failed = 0;
  let decisions = 0;
  let lastReason: string | undefined;
  let seenDecision = status.decisions;
  return {
    update(state) {
      if (status.decisions !== seenDecision) {
        seenDecision = status.decisions;
        decisions++;
        if (!status.ok) {
          failed++;
          lastReason = status.reason;
        }
      }
      const t = state.t_s;
      if (last !== undefined) {
        const dt_h = (t - last) / 3600;
        // Only while a target is committed (a market VPP has none before its first award).
        const aim = target(t);
        if (aim !== undefined) {
          let p = 0;
          for (const s of statusesFrom(members, state).values()) p += s.p_mw ?? 0;
          asked += aim * dt_h;
          delivered += p * dt_h;
        }
      }
      last = t;
    },
    finish() {
      if (asked === 0)
        return {
          passed: false,
          value: 'nothing checked',
          detail: 'checked nothing: no target energy in the window',
        };
      const error = (100 * (delivered - asked)) / Math.abs(asked);
      const solves =
        failed > 0 ? `; ${failed} of ${decisions} re-dispatches failed (last: ${lastReason})` : '';
      return {
        passed: Math.abs(error) <= within_pct,
        value: Number(error.toFixed(3)),
        detail: `delivered ${delivered.toFixed(3)} MWh against a target of ${asked.toFixed(3)} MWh (${error >= 0 ? '+' : ''}${error.toFixed(2)} %, limit ±${within_pct} %)${solves}`,
      };
    },
  };
}

function convergenceTracker(
  maxIterations: number,
  minLoss: number | undefined,
  decisions: () => DecisionRecord[],
): VppAssertionTracker {
  return {
    update() {},
    finish() {
      const inScope = decisions().filter((d) => minLoss === undefined || d.loss >= minLoss - 1e-12);
      // A re-dispatch refused before any exchange (a target outside the available range) is not a
      // convergence attempt: it is reported, and judged by vpp-tracks-target.
      const all = inScope.filter((d) => d.iterations !== undefined);
      const noSolve = inScope.length - all.length;
      const under = minLoss !== undefined ? ` at ≥ ${(minLoss * 100).toFixed(0)} % message loss` : '';
      if (all.length === 0)
        return {
          passed: false,
          value: 'nothing checked',
          detail: `checked nothing: no re-dispatch${under} in the window`,
        };
      const notConverged = all.filter((d) => !d.ok);
      const worst = Math.max(...all.map((d) => d.iterations ?? 0));
      const over = all.filter((d) => (d.iterations ?? 0) > maxIterations);
      const passed = notConverged.length === 0 && over.length === 0;
      const first = notConverged[0] ?? over[0];
      return {
        passed,
        value: worst,
        detail: `${all.length} re-dispatches${under}: at most ${worst} rounds (limit ${maxIterations})${
          noSolve > 0 ? `; ${noSolve} not attempted (infeasible target)` : ''
        }${
          passed
            ? ''
            : `; ${notConverged.length} did not converge, ${over.length} over the limit (first at ${first!.t_s.toFixed(1)} s${first!.reason ? `: ${first!.reason}` : ''})`
        }`,
      };
    },
  };
}

/**
 * While an agent lies: the cost of the set-points in force against the honest central optimum of
 * the same intervals (summed over the decisions), and whether its neighbours isolated it.
 */
function byzantineTracker(
  maxPct: number,
  decisions: () => DecisionRecord[],
  structure: ControlStructure,
): VppAssertionTracker {
  const detector = structure === 'admm' ? "the aggregator's check" : 'W-MSR';
  return {
    update() {},
    finish() {
      const lying = decisions().filter((d) => d.liar !== undefined);
      if (lying.length === 0)
        return {
          passed: false,
          value: 'nothing checked',
          detail: 'checked nothing: no agent lied in the window (a byzantine attack on comms:<vpp>)',
        };
      const liar = lying[0]!.liar!;
      let cost = 0;
      let reference = 0;
      for (const d of lying) {
        if (!Number.isFinite(d.reference_cost)) continue;
        cost += d.cost;
        reference += d.reference_cost;
      }
      const change = reference !== 0 ? (100 * (cost - reference)) / Math.abs(reference) : Number.NaN;
      const isolatedAt = lying.find((d) => d.isolated.includes(liar));
      const failed = lying.filter((d) => !d.ok).length;
      const small = Number.isFinite(change) && Math.abs(change) <= maxPct;
      return {
        passed: small || isolatedAt !== undefined,
        value: Number.isFinite(change) ? Number(change.toFixed(4)) : 'no reference cost',
        detail: `'${liar}' lied in ${lying.length} re-dispatches: cost ${change >= 0 ? '+' : ''}${change.toFixed(3)} % against the honest optimum (limit ${maxPct} %); ${
          isolatedAt
            ? `detected and isolated by ${detector} (first at ${isolatedAt.t_s.toFixed(1)} s)`
            : 'not isolated'
        }${failed > 0 ? `; ${failed} re-dispatches did not converge (last dispatch kept)` : ''}`,
      };
    },
  };
}

export { VppFileError };
