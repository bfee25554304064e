import { describe, expect, it } from 'vitest';
import type { TwinState } from '../twin/api.ts';
import type { ControllerAction, TwinCatalog } from '../twin/control/contract.ts';
import { graphFromEdges } from './comms.ts';
import { VppController } from './controller.ts';
import { bindPortfolio, parsePortfolio } from './portfolio.ts';

const catalog: TwinCatalog = {
  f0_hz: 50,
  dt_s: 0.01,
  busIds: ['1', '2'],
  microgrids: [{ id: 'A', buses: ['1', '2'] }],
  ders: [
    {
      id: 'g1',
      technology: 'gas-genset',
      bus: '1',
      microgrid: 'A',
      rating_mva: 1,
      pmin_mw: 0,
      pmax_mw: 1,
      cost_per_mwh: 50,
      dispatchable: true,
      hardware: false,
    },
    {
      id: 'g2',
      technology: 'gas-genset',
      bus: '2',
      microgrid: 'A',
      rating_mva: 1,
      pmin_mw: 0,
      pmax_mw: 1,
      cost_per_mwh: 60,
      dispatchable: true,
      hardware: true,
    },
  ],
  fids: [],
  loads: [],
  breakers: [],
};
const text = `format: gridloop-vpp/1
vpps:
  - id: v
    members:
      - { der: g1, cost: { a_per_mw2h: 10, b_per_mwh: 50 } }
      - { der: g2, cost: { a_per_mw2h: 10, b_per_mwh: 60 } }
`;

function state(t_s: number, g1: number, g2: number): TwinState {
  return {
    t_s,
    step: 0,
    islands: [],
    busIds: ['1', '2'],
    vm_pu: new Float64Array(2),
    va_deg: new Float64Array(2),
    devices: { g1: { p_mw: g1, q_mvar: 0, online: true }, g2: { p_mw: g2, q_mvar: 0, online: true } },
    events: [],
  };
}

describe('VppController (unit)', () => {
  it('claims its members and dispatches at equal incremental cost', () => {
    const [vpp] = bindPortfolio(parsePortfolio(text, 'v.yaml'), catalog);
    const ctl = new VppController({ vpp: vpp!, target: () => 1.5 });
    ctl.attach(catalog);
    expect(ctl.claims).toEqual([
      { kind: 'der', id: 'g1' },
      { kind: 'der', id: 'g2' },
    ]);
    const actions: ControllerAction[] = [];
    ctl.decide(state(0, 0.5, 0.5), actions);
    // By hand: 50 + 20·p1 = 60 + 20·p2, p1 + p2 = 1.5 → p1 = 1.0, p2 = 0.5, λ = 70.
    expect(actions).toEqual([
      { kind: 'der-setpoint', id: 'g1', p_mw: expect.closeTo(1, 9) },
      { kind: 'der-setpoint', id: 'g2', p_mw: expect.closeTo(0.5, 9) },
    ]);
    expect(ctl.status.lambda).toBeCloseTo(70, 9);
  });

  it('a member whose set-point is refused (another controller owns it) is dispatched around, never sent to again', () => {
    const [vpp] = bindPortfolio(parsePortfolio(text, 'v.yaml'), catalog);
    const ctl = new VppController({ vpp: vpp!, target: () => 1.5 });
    const actions: ControllerAction[] = [];
    ctl.decide(state(0, 0.5, 0.5), actions);
    ctl.feedback([{ action: actions[1]!, reason: 'not-owner', message: 'der:g2 is driven by ems:A' }]);
    expect(ctl.status.excluded).toEqual(['g2']);
    actions.length = 0;
    ctl.decide(state(5, 0.9, 0.3), actions);
    // g2 (its owner holds it at 0.3 MW) counts as measured; g1 covers the rest: 1.2 MW → clamped at 1.
    expect(actions).toEqual([{ kind: 'der-setpoint', id: 'g1', p_mw: expect.closeTo(1, 9) }]);
    expect(ctl.status.ok).toBe(false); // 1 + 0.3 < 1.5: the target cannot be met, and it says so
    actions.length = 0;
    ctl.decide(state(10, 0.9, 0.3), actions);
    expect(actions.every((a) => a.kind === 'der-setpoint' && a.id !== 'g2')).toBe(true);
  });

  it('a NaN target is refused: the last feasible dispatch is kept, never NaN sent', () => {
    const [vpp] = bindPortfolio(parsePortfolio(text, 'v.yaml'), catalog);
    let target = 1;
    const ctl = new VppController({ vpp: vpp!, target: () => target });
    const actions: ControllerAction[] = [];
    ctl.decide(state(0, 0.5, 0.5), actions);
    const first = [...actions];
    target = Number.NaN;
    actions.length = 0;
    ctl.decide(state(5, 0.5, 0.5), actions);
    expect(ctl.status.ok).toBe(false);
    expect(ctl.status.reason).toMatch(/not a finite number/);
    expect(actions).toEqual(first);
  });

  it('a solver that throws (consensus over a disconnected graph) fails the period, never the controller', () => {
    const [vpp] = bindPortfolio(parsePortfolio(text, 'v.yaml'), catalog);
    const graph = graphFromEdges(2, []);
    const ctl = new VppController({ vpp: vpp!, target: () => 1, structure: 'consensus', graph });
    const actions: ControllerAction[] = [];
    expect(() => ctl.decide(state(0, 0.5, 0.5), actions)).not.toThrow();
    expect(ctl.status.ok).toBe(false);
    expect(ctl.status.reason).toMatch(/communication graph is disconnected/);
    expect(actions).toEqual([]);
  });

  it('attach refuses a member the twin does not have', () => {
    const [vpp] = bindPortfolio(parsePortfolio(text, 'v.yaml'), catalog);
    const ctl = new VppController({ vpp: vpp!, target: () => 1 });
    expect(() => ctl.attach({ ...catalog, ders: catalog.ders.slice(0, 1) })).toThrow(
      /member 'g2' is not a der of this twin/,
    );
  });
});
