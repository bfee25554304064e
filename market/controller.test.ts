import { describe, expect, it } from 'vitest';
import type { TwinState } from '../twin/api.ts';
import type { ControllerAction, TwinCatalog } from '../twin/control/contract.ts';
import { MarketController, microgridAgents, rampedSetpoint } from './controller.ts';
import type { Participant } from './orders.ts';

const catalog = (rating_mw: number): TwinCatalog => ({
  f0_hz: 50,
  dt_s: 0.1,
  busIds: ['b1', 'b2', 'b3'],
  microgrids: [
    { id: 'mg1', buses: ['b1', 'b2'] },
    { id: 'mg2', buses: ['b3'] },
  ],
  ders: [],
  fids: [{ id: 'fid1', busA: 'b2', busB: 'b3', rating_mw }],
  loads: [],
  breakers: [],
});

function state(t_s: number, pcc1: number, pcc2: number, fid_ab_mw = 0): TwinState {
  return {
    t_s,
    step: 0,
    islands: [],
    busIds: ['b1', 'b2', 'b3'],
    vm_pu: new Float64Array(3),
    va_deg: new Float64Array(3),
    devices: {},
    // A→B transfer: side A (mg1) gets −p, side B (mg2) +p (losses left out).
    fids: { fid1: { p_a_mw: -fid_ab_mw, p_b_mw: fid_ab_mw, loss_mw: 0 } },
    microgrids: {
      mg1: { pcc_p_mw: pcc1, pcc_q_mvar: 0, ems: 'low-cost', islanded: false },
      mg2: { pcc_p_mw: pcc2, pcc_q_mvar: 0, ems: 'low-cost', islanded: false },
    },
    events: [],
  };
}

const participants = new Map<string, Participant>([
  ['mg1', { id: 'mg1', microgrid: 'mg1', deposit: 1e12 }],
  ['mg2', { id: 'mg2', microgrid: 'mg2', deposit: 1e12 }],
]);

function market(rating_mw: number) {
  const m = new MarketController({
    fids: ['fid1'],
    participants,
    bidder: microgridAgents({ buyPrice: 200, sellPrice: 100 }),
  });
  m.attach(catalog(rating_mw));
  return m;
}

describe('market controller', () => {
  it('claims its FIDs, wakes at every gate closure (60 s) and clears every 15 min by default', () => {
    const m = market(2);
    expect(m.claims).toEqual([{ kind: 'fid', id: 'fid1' }]);
    expect(m.period_s).toBe(60);
    expect(m.config.interval_s).toBe(900);
  });

  it('clears at the gate closure and schedules the FID from the interval start (mg2 exports 1 MW, mg1 imports 2 MW)', () => {
    const m = market(2);
    const actions: ControllerAction[] = [];
    // t = 720 s: the gate of the next interval (840 s) is more than a period away: nothing.
    m.decide(state(720.1, 2, -1), actions);
    expect(actions).toEqual([]);
    expect(m.history).toEqual([]);
    // t = 780.1 s: the last wake-up before the gate of [900, 1800) closes at 840 s: cleared, not yet delivered.
    m.decide(state(780.1, 2, -1), actions);
    expect(actions).toEqual([]);
    expect(m.history[0].intervalStart_s).toBe(900);
    const r = m.history[0].result!;
    // 1 MW over 15 min = 250 000 Wh flows from mg2 (side B) to mg1 (side A): A→B = −1 MW.
    expect(r.volume_wh).toBe(250_000);
    expect(r.links[0].binding).toBe(false);
    m.decide(state(900.1, 2, -1), actions);
    expect(actions).toEqual([{ kind: 'fid-setpoint', id: 'fid1', p_mw: -1 }]);
    // Next gate closure: the FID now carries 1 MW B→A, the PCCs show the rest; the schedule holds.
    actions.length = 0;
    m.decide(state(1680.1, 1, 0, -1), actions);
    m.decide(state(1800, 1, 0, -1), actions);
    expect(actions).toEqual([{ kind: 'fid-setpoint', id: 'fid1', p_mw: -1 }]);
  });

  it('refuses a gate closure that does not divide the interval', () => {
    expect(
      () => new MarketController({ fids: [], participants, bidder: () => [], config: { gateClosure_s: 70 } }),
    ).toThrow(/gateClosure_s 70 must divide interval_s 900/);
  });

  it('limits the exchange to the FID rating and reports the binding constraint', () => {
    const m = market(0.5);
    const actions: ControllerAction[] = [];
    m.decide(state(840, 2, -1), actions);
    m.decide(state(900, 2, -1), actions);
    expect(actions).toEqual([{ kind: 'fid-setpoint', id: 'fid1', p_mw: -0.5 }]);
    const link = m.history[0].result!.links[0];
    expect(link.binding).toBe(true);
    expect(link.message).toBe('fid1 at its 125000 Wh rating from mg2 to mg1: price 200 in mg1 vs 100 in mg2');
  });

  it('clears no exchange through a FID whose side blacked out', () => {
    const m = market(2);
    const actions: ControllerAction[] = [];
    const dark = state(840, 2, -1);
    dark.islands = [{ id: 'mg2', energised: false, f_hz: 0, rocof_hz_s: 0, buses: ['b3'] } as never];
    m.decide(dark, actions);
    m.decide(state(900, 2, -1), actions);
    expect(actions).toEqual([{ kind: 'fid-setpoint', id: 'fid1', p_mw: 0 }]);
    expect(m.history[0].result!.volume_wh).toBe(0);
  });

  it('refuses a FID that does not join two microgrids', () => {
    const m = new MarketController({ fids: ['nope'], participants, bidder: () => [] });
    expect(() => m.attach(catalog(1))).toThrow(/FID nope is not in the twin's catalog/);
  });
});

describe('market controller with a FID schedule ramp (fidRamp_s)', () => {
  const ramped = (rating_mw: number) => {
    const m = new MarketController({
      fids: ['fid1'],
      participants,
      bidder: microgridAgents({ buyPrice: 200, sellPrice: 100 }),
      fidRamp_s: 60,
    });
    m.attach(catalog(rating_mw));
    return m;
  };

  it('sends each set-point with its ramp, chosen so the interval carries the cleared energy', () => {
    expect(rampedSetpoint(0, -1, 900, 60)).toBeCloseTo(-900 / 870, 12);
    expect(rampedSetpoint(0.3, 0.3, 900, 0)).toBe(0.3);
    const m = ramped(2);
    const actions: ControllerAction[] = [];
    m.decide(state(840, 2, -1), actions);
    m.decide(state(900, 2, -1), actions);
    // From 0 MW (what the FID carries) to p over 60 s, then p: 0·30 s + p·870 s = −1 MW × 900 s.
    expect(actions).toHaveLength(1);
    expect(actions[0]).toMatchObject({ kind: 'fid-setpoint', id: 'fid1', ramp_s: 60 });
    const first = (actions[0] as { p_mw: number }).p_mw;
    expect(first).toBeCloseTo(-30 / 29, 12);
    // The next interval clears −1 MW again: from −30/29 MW, p = (−900 + 30/29 · 30)/870 = −25200/25230.
    actions.length = 0;
    m.decide(state(1740, 1, 0, -1), actions);
    m.decide(state(1800, 1, 0, -1), actions);
    expect((actions[0] as { p_mw: number }).p_mw).toBeCloseTo(-25200 / 25230, 12);
    expect((first * 60) / 2 + (actions[0] as { p_mw: number }).p_mw * 870).toBeCloseTo(-900, 9);
  });

  it('derates the FID in the clearing by the ramp, so the set-point stays within the rating even on a reversal', () => {
    const m = ramped(0.5);
    const actions: ControllerAction[] = [];
    m.decide(state(840, 2, -1, 0.5), actions);
    m.decide(state(900, 2, -1, 0.5), actions);
    const link = m.history[0].result!.links[0];
    // 0.5 MW over the 840 s after the ramp: 116 666 Wh.
    expect(link.flow_wh).toBe(-116_666);
    expect(link.message).toMatch(/^fid1 at its 116666 Wh rating from mg2 to mg1/);
    // From +0.5 MW (B gets 0.5) to the full reverse: (−116 666 Wh / 0.25 h · 900 s − 0.5 · 30)/870 ≈ −0.5 MW.
    const p = (actions[0] as { p_mw: number }).p_mw;
    expect(p).toBeCloseTo((-0.466664 * 900 - 15) / 870, 9);
    expect(p).toBeGreaterThanOrEqual(-0.5);
  });

  it('refuses a ramp as long as the interval', () => {
    expect(() => new MarketController({ fids: [], participants, bidder: () => [], fidRamp_s: 900 })).toThrow(
      /fidRamp_s 900 must be ≥ 0 and shorter than interval_s 900/,
    );
  });
});

describe('market controller while the ledger cannot make progress', () => {
  it('keeps the last cleared schedule for one interval, then returns to zero exchange, and says so', () => {
    let live = true;
    const m = new MarketController({
      fids: ['fid1'],
      participants,
      bidder: microgridAgents({ buyPrice: 200, sellPrice: 100 }),
      ledgerLive: () => live,
    });
    m.attach(catalog(2));
    const actions: ControllerAction[] = [];
    /** The gate closure of the interval starting at `start`, then its start: what is delivered. */
    const interval = (start: number, pcc1: number, pcc2: number, fid = 0) => {
      actions.length = 0;
      m.decide(state(start - 60, pcc1, pcc2, fid), actions);
      m.decide(state(start, pcc1, pcc2, fid), actions);
      return [...actions];
    };
    expect(interval(900, 2, -1)).toEqual([{ kind: 'fid-setpoint', id: 'fid1', p_mw: -1 }]);
    live = false;
    expect(interval(1800, 1, 0, -1)).toEqual([{ kind: 'fid-setpoint', id: 'fid1', p_mw: -1 }]);
    expect(m.history[1].note).toMatch(/keep the last cleared schedule/);
    expect(interval(2700, 1, 0, -1)).toEqual([{ kind: 'fid-setpoint', id: 'fid1', p_mw: 0 }]);
    expect(m.history[2].note).toMatch(/return to zero exchange/);
    live = true;
    expect(interval(3600, 2, -1)).toEqual([{ kind: 'fid-setpoint', id: 'fid1', p_mw: -1 }]);
  });
});
