import { describe, expect, it } from 'vitest';
import type { TwinState } from '../twin/api.ts';
import type { ControllerAction, TwinCatalog } from '../twin/control/contract.ts';
import { VppController } from './controller.ts';
import { bindPortfolio, parsePortfolio } from './portfolio.ts';
import { checkPreferences, inWindow } from './telemetry.ts';

const der = (id: string, technology: string, pmin_mw: number, pmax_mw: number, capacity_mwh?: number) => ({
  id,
  technology,
  bus: '1',
  microgrid: 'A',
  rating_mva: 1,
  pmin_mw,
  pmax_mw,
  ...(capacity_mwh === undefined ? {} : { capacity_mwh }),
  cost_per_mwh: 50,
  dispatchable: true,
  hardware: false,
});
const catalog: TwinCatalog = {
  f0_hz: 50,
  dt_s: 0.01,
  busIds: ['1'],
  microgrids: [{ id: 'A', buses: ['1'] }],
  ders: [der('g1', 'gas-genset', 0, 1), der('b1', 'battery', -0.5, 0.5, 1)],
  fids: [],
  loads: [{ id: 'l1', bus: '1', microgrid: 'A', controllable: true }],
  breakers: [],
};
const text = `format: gridloop-vpp/1
vpps:
  - id: v
    period_s: 60
    members:
      - { der: g1, cost: { a_per_mw2h: 10, b_per_mwh: 50 } }
      - { der: b1, prosumer: h1, cost: { a_per_mw2h: 10, b_per_mwh: 20 } }
      - { load: l1, prosumer: h1, load_mw: 0.2, cost: { a_per_mw2h: 10, b_per_mwh: 100 } }
`;

function state(t_s: number, g1: number, b1: number, soc = 0.6): TwinState {
  return {
    t_s,
    step: 0,
    islands: [],
    busIds: ['1'],
    vm_pu: new Float64Array(1),
    va_deg: new Float64Array(1),
    devices: {
      g1: { p_mw: g1, q_mvar: 0, online: true },
      b1: { p_mw: b1, q_mvar: 0, online: true, soc },
    },
    events: [],
  } as unknown as TwinState;
}

function controller(target = 0.5, startHour = 12) {
  const [vpp] = bindPortfolio(parsePortfolio(text, 'v.yaml'), catalog);
  const ctl = new VppController({ vpp: vpp!, target: () => target, startHour });
  ctl.attach(catalog);
  return ctl;
}

const prefs = (ctl: VppController, preferences: unknown, prosumer = 'h1') =>
  ctl.input({ type: 'prosumer-preferences', prosumer, preferences });

describe('VPP telemetry', () => {
  it('reports target, delivered, price, per-member set-point, measured, tracking error and flexibility', () => {
    const ctl = controller(0.5);
    const actions: ControllerAction[] = [];
    ctl.decide(state(0, 0.3, 0.1), actions);
    const first = ctl.telemetry()!;
    expect(first).toMatchObject({ kind: 'vpp', vpp: 'v', t_s: 0, target_mw: 0.5, ok: true });
    // Delivered: what the members measure (the load curtails nothing yet).
    expect(first.delivered_mw).toBeCloseTo(0.4, 12);
    // By hand: 50 + 20·g = 20 + 20·b = 100 + 20·l = λ with g + b + l = 0.5 and l clamped at 0:
    // g = b − 1.5 < 0 → g = 0 (its limit), b = 0.5, λ = 20 + 20·0.5 = 30.
    expect(first.price_per_mwh).toBeCloseTo(30, 9);
    const byId = new Map(first.members.map((m) => [m.id, m]));
    expect(byId.get('b1')).toMatchObject({ setpoint_mw: expect.closeTo(0.5, 9), measured_mw: 0.1, soc: 0.6 });
    expect(byId.get('g1')).toMatchObject({ setpoint_mw: expect.closeTo(0, 9), tracking_error_mw: null });
    expect(byId.get('l1')).toMatchObject({ kind: 'load', prosumer: 'h1', setpoint_mw: expect.closeTo(0, 9) });
    // Flexibility: g1 [0, 1]; b1 [−0.5, 0.5] (0.5 MWh above 10 % in one minute is far above 0.5 MW); l1 [0, 0.2].
    expect(first.flexibility).toMatchObject({
      pmin_mw: -0.5,
      members_online: 3,
      members: 3,
      ramp_mw_s: null,
    });
    expect(first.flexibility.pmax_mw).toBeCloseTo(1.7, 12);
    // Storage above soc_min 0.1 and below soc_max 0.95 of 1 MWh at 60 %.
    expect(first.flexibility.stored_energy_mwh).toBeCloseTo(0.5, 12);
    expect(first.flexibility.storage_room_mwh).toBeCloseTo(0.35, 12);

    // The next decision: tracking error = measured now − the set-point in force since the last one.
    actions.length = 0;
    ctl.decide(state(60, 0.02, 0.45), actions);
    const b1 = ctl.telemetry()!.members.find((m) => m.id === 'b1')!;
    expect(b1.tracking_error_mw).toBeCloseTo(0.45 - 0.5, 9);
  });

  it('a prosumer who opts out gets no set-points; the other members cover the rest around its output', () => {
    const ctl = controller(0.5);
    prefs(ctl, { opt_out: true });
    const actions: ControllerAction[] = [];
    ctl.decide(state(0, 0.3, 0.1), actions);
    // Only g1 is sent a set-point: 0.5 − 0.1 (b1 measured, counts) − 0 (l1 curtails nothing).
    expect(actions).toEqual([{ kind: 'der-setpoint', id: 'g1', p_mw: expect.closeTo(0.4, 9) }]);
    const t = ctl.telemetry()!;
    for (const id of ['b1', 'l1'])
      expect(t.members.find((m) => m.id === id)).toMatchObject({ opted_out: true, setpoint_mw: null });
    expect(t.preferences).toEqual({ h1: { opt_out: true } });
    // Each message is the whole set: opting back in.
    prefs(ctl, {});
    actions.length = 0;
    ctl.decide(state(60, 0.3, 0.1), actions);
    expect(actions.map((a) => a.id).sort()).toEqual(['b1', 'g1', 'l1']);
  });

  it('a battery reserve above the charge leaves nothing to discharge; charging stays allowed', () => {
    const ctl = controller(0.5);
    prefs(ctl, { battery_reserve: 0.9 });
    ctl.decide(state(0, 0.3, 0.1, 0.6), []);
    const b1 = ctl.telemetry()!.members.find((m) => m.id === 'b1')!;
    expect(b1.pmax_mw).toBe(0);
    expect(b1.pmin_mw).toBe(-0.5);
    expect(b1.setpoint_mw!).toBeLessThanOrEqual(0);
  });

  it('a flexible load is curtailed only inside its prosumer’s window', () => {
    // Target 1.6 MW needs the load too (g1 1 + b1 0.5 at their limits); by hand, l1 = 1.6 − 1.5 = 0.1.
    const curtailed = (window: { start_h: number; end_h: number }, startHour: number) => {
      const ctl = controller(1.6, startHour);
      prefs(ctl, { flexible_window: window });
      ctl.decide(state(0, 0.3, 0.1), []);
      return ctl.telemetry()!.members.find((m) => m.id === 'l1')!;
    };
    // Outside the window the load is not available: the target is out of reach, nothing is curtailed.
    expect(curtailed({ start_h: 18, end_h: 22 }, 12)).toMatchObject({ pmax_mw: 0, setpoint_mw: null });
    expect(curtailed({ start_h: 10, end_h: 14 }, 12)).toMatchObject({
      pmax_mw: 0.2,
      setpoint_mw: expect.closeTo(0.1, 9),
    });
    // Wrapping past midnight: 22:00 to 13:00 holds noon.
    expect(curtailed({ start_h: 22, end_h: 13 }, 12).pmax_mw).toBe(0.2);
  });

  it('input: other kinds and other prosumers are ignored, bad preferences throw naming the field', () => {
    const ctl = controller();
    ctl.input({ type: 'market-order', prosumer: 'h1' });
    prefs(ctl, { opt_out: true }, 'someone-else');
    ctl.decide(state(0, 0.3, 0.1), []);
    expect(ctl.telemetry()!.preferences).toEqual({});
    expect(() => prefs(ctl, { battery_reserve: -1 })).toThrow(
      /preferences of h1: \/battery_reserve: must be a state of charge within 0…1, got -1/,
    );
    expect(() => ctl.input({ type: 'prosumer-preferences', prosumer: 7 })).toThrow(
      /\/prosumer must be a string/,
    );
  });
});

describe('prosumer preferences', () => {
  it('accepts the documented fields, null as absent, and refuses anything else with its JSON path', () => {
    expect(checkPreferences({})).toEqual({ ok: true, preferences: {} });
    expect(
      checkPreferences({ flexible_window: { start_h: 22, end_h: 6 }, battery_reserve: 0.3, opt_out: false }),
    ).toEqual({
      ok: true,
      preferences: { flexible_window: { start_h: 22, end_h: 6 }, battery_reserve: 0.3, opt_out: false },
    });
    expect(checkPreferences({ battery_reserve: null, flexible_window: null })).toEqual({
      ok: true,
      preferences: {},
    });
    const reason = (v: unknown) => {
      const r = checkPreferences(v);
      return r.ok ? 'accepted' : r.reason;
    };
    expect(reason(null)).toMatch(/^\/: must be an object/);
    expect(reason('x')).toMatch(/^\/: must be an object/);
    expect(reason({ flexible_window: [1, 2] })).toMatch(/^\/flexible_window: must be an object/);
    expect(reason({ flexible_window: { start_h: 1 } })).toMatch(/^\/flexible_window\/end_h: must be an hour/);
    expect(reason({ flexible_window: { start_h: 1, end_h: 2, tz: 1 } })).toMatch(
      /^\/flexible_window\/tz: unknown/,
    );
    expect(reason({ battery_reserve: Number.NaN })).toMatch(/^\/battery_reserve: /);
    expect(reason({ battery_reserve: '0.5' })).toMatch(/^\/battery_reserve: .*got "0.5"/);
    expect(reason({ opt_out: 1 })).toMatch(/^\/opt_out: must be true or false, got 1/);
    expect(reason({ ['x'.repeat(10_000)]: 1 })).toMatch(/^\/x{64}: unknown field/);
  });

  it('windows: [start, end) within a day, wrapping past midnight when end < start', () => {
    expect(inWindow({ start_h: 8, end_h: 17 }, 8)).toBe(true);
    expect(inWindow({ start_h: 8, end_h: 17 }, 17)).toBe(false);
    expect(inWindow({ start_h: 22, end_h: 6 }, 23.5)).toBe(true);
    expect(inWindow({ start_h: 22, end_h: 6 }, 24 + 5)).toBe(true);
    expect(inWindow({ start_h: 22, end_h: 6 }, 12)).toBe(false);
  });
});
