/**
 * The distributed structures under attack and faults, on the demo portfolio and on a generated one,
 * against the central optimum from HiGHS (an independent solver): a lying consensus agent under
 * W-MSR with each agent's own gain, a lying ADMM member, a consensus link failing mid-exchange.
 */
import type { Highs } from 'highs';
import { beforeAll, describe, expect, it } from 'vitest';
import { admmDispatch } from '../vpp/admm.ts';
import { memberLimits } from '../vpp/aggregate.ts';
import { dispatchInterval, loadSolver, solveSchedule } from '../vpp/central.ts';
import { smallWorld } from '../vpp/comms.ts';
import { type CostCurve, consensusDispatch } from '../vpp/consensus.ts';
import { generatePortfolio } from '../vpp/generate.ts';
import { bindPortfolio, loadPortfolio, type VppMember } from '../vpp/portfolio.ts';
import { DEMO_PORTFOLIO, twinWithCatalog } from './support/vpp-catalog.ts';

interface Case {
  name: string;
  curves: CostCurve[];
  target: number;
  /** The central optimum of the interval (HiGHS QP). */
  ref: { cost: number; lambda: number };
}

let highs: Highs;
const cases: Case[] = [];

function centralOptimum(members: VppMember[], curves: CostCurve[], target: number) {
  const r = solveSchedule(highs, {
    members: members.map((m, i) => ({
      ...m,
      ...curves[i]!,
      capacity_mwh: undefined,
      availability: undefined,
    })),
    target_mw: [target],
    interval_h: 1,
    startHour: 12,
  });
  if (!r.ok) throw new Error(r.reason);
  return { cost: r.cost, lambda: r.price[0]! };
}

beforeAll(async () => {
  highs = await loadSolver();
  const { catalog } = await twinWithCatalog();
  const [demo] = bindPortfolio(loadPortfolio(DEMO_PORTFOLIO), catalog);
  const generated = generatePortfolio(100, 7);
  for (const [name, members, dt_h] of [
    ['demo portfolio', demo!.members, 5 / 3600],
    ['generated portfolio (100 members)', generated, 0.25],
  ] as const) {
    const curves = members.map((m) => ({ a: m.a, b: m.b, ...memberLimits(m, 12, undefined, dt_h) }));
    const target = 0.5 * curves.reduce((s, c) => s + c.pmax_mw, 0);
    cases.push({ name, curves, target, ref: centralOptimum(members, curves, target) });
  }
});

const rel = (x: number, ref: number) => Math.abs(x - ref) / Math.abs(ref);

describe('consensus: a lying agent under W-MSR with each agent its own gain', () => {
  it('isolates exactly the liar, stays within 1 % of the central cost, in at most 1.1× the rounds of one global gain (demo: under half)', () => {
    for (const c of cases) {
      const graph = smallWorld(c.curves.length, 6, 0.1, 3);
      const liar = { agent: 4, bias: 40 };
      const base = { target_mw: c.target, graph, liar, resilient: true, maxIterations: 3000 };
      const own = consensusDispatch(c.curves, base);
      expect(own.converged, c.name).toBe(true);
      expect(own.isolated, c.name).toEqual([4]);
      expect(rel(own.cost, c.ref.cost), c.name).toBeLessThan(0.01);
      // One global gain 0.4 / mean(1/2a) (the former W-MSR default), same detection.
      const global = 0.4 / (c.curves.reduce((s, k) => s + 1 / (2 * k.a), 0) / c.curves.length);
      const one = consensusDispatch(c.curves, { ...base, epsilon: global });
      expect(one.isolated, c.name).toEqual([4]);
      // Measured: demo 188 rounds against 833; generated 827 against 770 (docs/vpp.md).
      expect(own.iterations, c.name).toBeLessThanOrEqual(1.1 * one.iterations);
      if (c.name === 'demo portfolio') expect(own.iterations).toBeLessThan(0.5 * one.iterations);
      // Honest runs: nobody taken for a liar.
      expect(consensusDispatch(c.curves, { ...base, liar: undefined }).isolated, c.name).toEqual([]);
    }
  });
  it('1,000 agents on a small world: the liar, and nobody across a slow-mixing long link, is isolated', () => {
    const members = generatePortfolio(1000, 7);
    const curves = members.map((m) => ({ a: m.a, b: m.b, ...memberLimits(m, 12, undefined, 0.25) }));
    const target = 0.5 * curves.reduce((s, k) => s + k.pmax_mw, 0);
    // The reference from the exact optimality conditions (HiGHS's QP fails at this size; the
    // conditions agree with HiGHS to 1e-6 on 60 members, vpp/distributed.test.ts).
    const ref = dispatchInterval(curves, curves, target);
    const r = consensusDispatch(curves, {
      target_mw: target,
      graph: smallWorld(1000, 6, 0.1, 3),
      liar: { agent: 500, bias: 40 },
      resilient: true,
      maxIterations: 8000,
    });
    // Measured: 4,470 rounds (one global gain: ~3,100; the former detection isolated honest agents
    // across long links and did not converge in 5,000).
    expect(r.converged).toBe(true);
    expect(r.isolated).toEqual([500]);
    expect(rel(r.cost, ref.cost)).toBeLessThan(0.01);
  });
});

describe('consensus: a link failing mid-exchange loses no mass', () => {
  it('the power balance closes (1e-6) and the cost reaches the central optimum (0.1 %), also with loss and delay', () => {
    for (const c of cases) {
      const graph = smallWorld(c.curves.length, 6, 0.1, 3);
      // Two links fail while the mismatch is flowing on them (rounds 20 and 37).
      const failedLinks = [
        { a: 0, b: graph.neighbours[0]![0]!, at: 20 },
        { a: 5, b: graph.neighbours[5]![1]!, at: 37 },
      ];
      for (const network of [
        { failedLinks },
        { failedLinks, loss: 0.2, seed: 3 },
        { failedLinks, loss: 0.1, latency_ms: 10, jitter_ms: 10, seed: 4 },
      ]) {
        const label = `${c.name} ${JSON.stringify({ ...network, failedLinks: undefined })}`;
        const r = consensusDispatch(c.curves, {
          target_mw: c.target,
          graph,
          network,
          tolerance: 1e-8,
          maxIterations: 6000,
        });
        const delivered = r.p_mw.reduce((s, x) => s + x, 0);
        expect(r.converged, label).toBe(true);
        expect(Math.abs(delivered - c.target) / c.target, label).toBeLessThan(1e-6);
        expect(rel(r.cost, c.ref.cost), label).toBeLessThan(1e-3);
        expect(r.closedLinks, label).toEqual(
          failedLinks.map((f) => [Math.min(f.a, f.b), Math.max(f.a, f.b)]).sort((x, y) => x[0]! - y[0]!),
        );
      }
    }
  });
});

describe('ADMM: a member that reports false powers', () => {
  /** The criterion: the cost moves by ≤ 1 %, or the liar is detected and isolated. */
  const holds = (cost: number, ref: number, isolated: number[], liar: number) =>
    rel(cost, ref) <= 0.01 || isolated.includes(liar);

  it('the aggregator check catches it and dispatches it from its declared curve; trusting the reports fails the criterion', () => {
    for (const c of cases) {
      for (const network of [
        {},
        { loss: 0.2, seed: 3 },
        { loss: 0.1, latency_ms: 10, jitter_ms: 20, seed: 4 },
      ]) {
        const label = `${c.name} ${JSON.stringify(network)}`;
        // Agent 4 reports 10 % of the target more than it produces.
        const liar = { agent: 4, bias: 0.1 * c.target };
        const checked = admmDispatch(c.curves, { target_mw: c.target, network, liar });
        expect(checked.converged, label).toBe(true);
        expect(checked.isolated, label).toEqual([4]);
        expect(rel(checked.cost, c.ref.cost), label).toBeLessThan(1e-3);
        expect(Math.abs(checked.mismatch_mw) / c.target, label).toBeLessThan(1e-4);
        expect(holds(checked.cost, c.ref.cost, checked.isolated, 4), label).toBe(true);
        // Without the rule the aggregator balances the reports: the plant delivers 10 % short.
        const trusting = admmDispatch(c.curves, { target_mw: c.target, network, liar, verifyReports: false });
        expect(trusting.isolated, label).toEqual([]);
        expect(trusting.mismatch_mw / c.target, label).toBeCloseTo(-0.1, 3);
        expect(holds(trusting.cost, c.ref.cost, trusting.isolated, 4), label).toBe(false);
        // Honest members pass the check whatever the network loses or delays.
        expect(admmDispatch(c.curves, { target_mw: c.target, network }).isolated, label).toEqual([]);
      }
    }
  });
});
