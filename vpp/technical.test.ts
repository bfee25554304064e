/**
 * The TVPP's interval without the twin (transport part): what it cannot honour is named — a FID
 * at its rating stopping the target, an island the FIDs cannot supply — and never NaN.
 */
import type { Highs } from 'highs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSolver } from './central.ts';
import type { VppMember } from './portfolio.ts';
import { dispatchTechnical, type TechnicalProblem } from './technical.ts';
import { testUnit } from './test-support.ts';

const unit = (id: string, microgrid: string, pmax: number, b: number): VppMember =>
  testUnit(id, 0, pmax, 1, b, { bus: id, microgrid });

let highs: Highs;
beforeAll(async () => {
  highs = await loadSolver();
});

/** Zone A (grid-connected) and island B, joined by one FID rated 0.3 MW. */
function problem(demandB: number, target: number): TechnicalProblem {
  const members = [unit('a1', 'A', 2, 10), unit('b1', 'B', 0.5, 100)];
  return {
    members,
    limits: members.map((m) => ({ pmin_mw: m.pmin_mw, pmax_mw: m.pmax_mw })),
    p0_mw: [0, 0],
    target_mw: target,
    zones: { ids: ['A', 'B'], demand_mw: [0, demandB], gridZones: ['A'] },
    links: [{ id: 'fid-ab', from: 'A', to: 'B', busA: 'a1', busB: 'b1', rating_mw: 0.3 }],
    f0_mw: [0],
  };
}

describe('TVPP interval (transport part)', () => {
  it('island B gets the cheap power through the FID up to its rating; the binding FID is named', () => {
    const r = dispatchTechnical(highs, problem(0.6, 1.0));
    if (!r.ok) throw new Error(r.reason);
    // By hand: B needs 0.6 MW; a1 is cheaper, so the FID carries its rating 0.3 and b1 the rest.
    expect(r.flow_mw[0]).toBeCloseTo(0.3, 6);
    expect(r.p_mw[1]).toBeCloseTo(0.3, 6);
    expect(r.p_mw[0]! + r.p_mw[1]!).toBeCloseTo(1.0, 6);
    expect(r.report.binding).toContain('fid:fid-ab');
    expect(r.report.shortfall_mw).toBeCloseTo(0, 9);
  });

  it('an island the members and FID cannot supply fails with the conflicting rows named, never NaN', () => {
    const r = dispatchTechnical(highs, problem(0.9, 1.0));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toMatch(/balance_B/);
  });

  it('a target above what the members can give is reported as a shortfall, the dispatch at their limits', () => {
    const r = dispatchTechnical(highs, problem(0.2, 5));
    if (!r.ok) throw new Error(r.reason);
    expect(r.report.shortfall_mw).toBeCloseTo(5 - 2.5, 6);
    for (const p of r.p_mw) expect(Number.isFinite(p)).toBe(true);
    expect(r.p_mw[0]).toBeCloseTo(2, 6);
    expect(r.p_mw[1]).toBeCloseTo(0.5, 6);
  });
});
