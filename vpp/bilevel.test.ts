import { describe, expect, it } from 'vitest';
import type { MemberStatus } from './aggregate.ts';
import { BilevelSchedule } from './bilevel.ts';
import type { VppMember } from './portfolio.ts';

const unit = (id: string, operator: string): VppMember => ({
  id,
  kind: 'der',
  operator,
  share: 1,
  technology: 'gas-genset',
  bus: '1',
  pmin_mw: 0,
  pmax_mw: 1,
  qmax_mvar: 0,
  a: 10,
  b: 50,
  soc_min: 0.1,
  soc_max: 0.95,
  dispatchable: true,
  hardware: false,
});
const members = [unit('g1', 'A'), unit('g2', 'B')];
const limits = members.map(() => ({ pmin_mw: 0, pmax_mw: 1 }));
const statuses = (p1: number, p2: number) =>
  new Map<string, MemberStatus>([
    ['g1', { online: true, p_mw: p1 }],
    ['g2', { online: true, p_mw: p2 }],
  ]);

describe('bi-level schedule in a running VPP (vpp/bilevel.ts)', () => {
  it('two identical operators split the commitment equally; the shortfall measured at a decision is held over the period and penalised', () => {
    const s = new BilevelSchedule(members, { penalty_per_mwh: 200, interval_s: 3600 }, () => 1, 12);
    const first = s.decide(0, limits, statuses(0, 0), 10 / 3600);
    // Symmetric game, symmetric outcome: 0.5 MW each, both marked up alike.
    const interval = s.report()!.interval;
    expect(interval.allocation_mw.A).toBeCloseTo(0.5, 4);
    expect(interval.allocation_mw.B).toBeCloseTo(0.5, 4);
    expect(interval.markup.A).toBeCloseTo(interval.markup.B!, 3);
    expect(first.p[0]! + first.p[1]!).toBeCloseTo(1, 9);
    // Nothing metered before the first decision.
    expect(s.report()!.penalty).toBe(0);
    // 10 s later A's unit gives 0.1 MW less than its allocation, B's 0.05 more: A pays for 0.1 MW × 10 s.
    const a = interval.allocation_mw.A!;
    s.decide(10, limits, statuses(a - 0.1, interval.allocation_mw.B! + 0.05), 10 / 3600);
    const [opA, opB] = s.report()!.operators;
    expect(opA!.undelivered_mwh).toBeCloseTo((0.1 * 10) / 3600, 12);
    expect(opA!.penalty).toBeCloseTo((200 * 0.1 * 10) / 3600, 9);
    expect(opB!.undelivered_mwh).toBe(0);
    expect(opA!.delivered_mw).toBeCloseTo(a - 0.1, 12);
  });

  it('a day that cannot be cleared fails each decision with the reason, without clearing it again', () => {
    let asked = 0;
    const s = new BilevelSchedule(
      members,
      { penalty_per_mwh: 200 },
      () => {
        asked++;
        return Number.NaN;
      },
      12,
    );
    expect(() => s.decide(0, limits, statuses(0, 0), 1 / 3600)).toThrow(/day-ahead clearing of day 0 failed/);
    const once = asked;
    expect(() => s.decide(1, limits, statuses(0, 0), 1 / 3600)).toThrow(/day-ahead clearing of day 0 failed/);
    expect(asked).toBe(once);
  });
});
