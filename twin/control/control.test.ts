import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TwinEvent, TwinState } from '../api.ts';
import { loadScenario } from '../scenario/load.ts';
import { runScenario } from '../scenario/runner.ts';
import { twinFromFiles } from '../twin.ts';
import {
  type ActuatorRef,
  type Controller,
  type ControllerAction,
  OwnershipConflict,
  type RefusedAction,
} from './contract.ts';
import { OPERATOR, Ownership } from './ownership.ts';

const grid = join(import.meta.dirname, '../../grids/demo-33bw-microgrids.yaml');
const der = (id: string): ActuatorRef => ({ kind: 'der', id });

/** A controller that writes the same actions every period and remembers what it was told. */
class Toy implements Controller {
  readonly refused: RefusedAction[] = [];
  readonly events: TwinEvent[] = [];
  decisions = 0;
  constructor(
    readonly id: string,
    readonly claims: ActuatorRef[],
    readonly plan: ControllerAction[],
    readonly period_s = 0.1,
  ) {}
  decide(_state: Readonly<TwinState>, actions: ControllerAction[]): void {
    this.decisions++;
    actions.push(...this.plan);
  }
  feedback(refused: readonly RefusedAction[], events: readonly TwinEvent[]): void {
    this.refused.push(...refused);
    this.events.push(...events);
  }
}

describe('actuator ownership', () => {
  it('refuses a conflicting claim whole, hands over only from the named holder, releases', () => {
    const own = new Ownership();
    own.claim('a', [der('x'), der('y')]);
    expect(() => own.claim('b', [der('z'), der('y')])).toThrow(OwnershipConflict);
    expect(own.ownerOf(der('z'))).toBeUndefined();
    expect(() => own.handOver(der('x'), 'b', 'c')).toThrow(/held by a, not b/);
    own.handOver(der('x'), 'a', 'b');
    expect(own.ownerOf(der('x'))).toBe('b');
    own.release('a');
    expect(own.ownerOf(der('y'))).toBeUndefined();
    expect(own.ownerOf(der('x'))).toBe('b');
  });

  it('the operator overrides supervised (built-in) holders, never an attached controller; latch spares it', () => {
    const own = new Ownership();
    own.supervise('ems:m');
    own.claim('ems:m', [der('x')]);
    own.claim('vpp', [der('y')]);
    const on = (id: string): ControllerAction => ({ kind: 'der-setpoint', id, p_mw: 0 });
    expect(own.check(OPERATOR, on('x'))).toBeUndefined();
    expect(own.check(OPERATOR, on('y'))?.reason).toBe('not-owner');
    expect(own.check('vpp', on('x'))?.reason).toBe('not-owner');
    expect(own.check('vpp', on('free'))?.reason).toBe('not-owner');
    own.latch('test');
    expect(own.check('vpp', on('y'))?.reason).toBe('latched');
    expect(own.check(OPERATOR, on('x'))).toBeUndefined();
    own.unlatch();
    expect(own.check('vpp', on('y'))).toBeUndefined();
  });
});

describe('controllers attached to the twin', () => {
  it('two declared controllers claiming one DER: the build is refused', async () => {
    const a = new Toy('a', [der('bess-25')], []);
    const b = new Toy('b', [der('fc-20'), der('bess-25')], []);
    await expect(twinFromFiles({ grid, dt_s: 0.01, controllers: [a, b] })).rejects.toThrow(OwnershipConflict);
  });

  it('a declared controller takes a DER from the EMS (hand-over event); a late one needs an explicit hand-over', async () => {
    // Decides once (period longer than the test), so only the EMS could move the battery after.
    const vpp = new Toy('vpp', [der('bess-25')], [{ kind: 'der-setpoint', id: 'bess-25', p_mw: 0.2 }], 1000);
    const twin = await twinFromFiles({ grid, dt_s: 0.01, controllers: [vpp] });
    expect(twin.ownership.ownerOf(der('bess-25'))).toBe('vpp');
    expect(twin.state.events.find((e) => e.kind === 'hand-over')?.data).toEqual({
      from: 'ems:MG1',
      to: 'vpp',
    });
    // The EMS (grid-connected, low cost: batteries at 0) leaves it to the VPP through its dispatches.
    twin.step([]);
    twin.apply({ kind: 'ems-mode', microgrid: 'MG1', mode: 'low-cost' });
    for (let k = 0; k < 200; k++) twin.step([]);
    expect(vpp.decisions).toBe(1);
    expect(twin.state.devices['bess-25'].p_mw).toBeCloseTo(0.2, 2);
    expect(vpp.refused).toEqual([]);

    const late = new Toy('late', [der('fc-20')], []);
    expect(() => twin.attach(late)).toThrow(/late cannot claim der:fc-20: it is driven by ems:MG1/);
    twin.ownership.handOver(der('fc-20'), 'ems:MG1', 'late');
    twin.attach(late);
    expect(twin.controllerIds).toEqual(['vpp', 'late']);
    twin.detach('late');
    expect(twin.ownership.ownerOf(der('fc-20'))).toBeUndefined();
  });

  it('actions on what a controller does not own are refused with a reason and an event; so is the operator on its DERs', async () => {
    const c = new Toy('c', [der('bess-25')], [{ kind: 'der-setpoint', id: 'bess-10', p_mw: 0.1 }]);
    const twin = await twinFromFiles({ grid, dt_s: 0.01, controllers: [c] });
    const s = twin.step([]);
    expect(c.refused.map((r) => r.reason)).toEqual(['not-owner']);
    const event = s.events.find((e) => e.kind === 'action-refused');
    expect(event).toMatchObject({ target: 'bess-10', data: { controller: 'c', reason: 'not-owner' } });
    expect(c.events).toContain(event);
    expect(() => twin.command({ kind: 'setpoint', deviceId: 'bess-25', p_mw: 0.1 })).toThrow(
      /operator may not drive der:bess-25: it is driven by c/,
    );
    // The operator still overrides the built-in EMS, as before controllers existed.
    expect(twin.command({ kind: 'setpoint', deviceId: 'bess-10', p_mw: 0.1 }).kind).toBe('setpoint');
  });

  it('NaN is refused, out-of-limit set-points are clamped and reported, unknown actuators named', async () => {
    const fid: ActuatorRef = { kind: 'fid', id: 'fid-25-29' };
    const load: ActuatorRef = { kind: 'load', id: 'load-24' };
    const host = new Toy('host', [der('bess-25'), fid, load], []);
    const twin = await twinFromFiles({ grid, dt_s: 0.01, controllers: [host] });
    twin.step([]);
    const refused = twin.applyActions('host', [
      { kind: 'der-setpoint', id: 'bess-25', p_mw: Number.NaN },
      { kind: 'der-setpoint', id: 'bess-25', p_mw: 5 },
      { kind: 'fid-setpoint', id: 'fid-25-29', p_mw: -2 },
      { kind: 'load-curtail', id: 'load-24', fraction: 1.5 },
      { kind: 'fid-setpoint', id: 'fid-25-29', p_mw: 0.1, ramp_s: -1 },
    ]);
    expect(refused.map((r) => r.reason)).toEqual(['invalid-value', 'invalid-value']);
    const s = twin.step([]);
    // Limits from the grid file: battery rating_mw 0.5 (SoC mid-range), FID rating 0.3 MVA.
    const clamps = s.events.filter((e) => e.kind === 'action-clamped');
    expect(clamps.map((e) => [e.target, e.data?.applied])).toEqual([
      ['bess-25', 0.5],
      ['fid-25-29', -0.3],
      ['load-24', 1],
    ]);
    expect(s.events.find((e) => e.kind === 'action-refused')).toMatchObject({
      target: 'bess-25',
      data: { controller: 'host', reason: 'invalid-value' },
    });
    expect(() => twin.attach(new Toy('ghost', [der('nope')], []))).toThrow(
      /claims der:nope, which does not exist/,
    );
  });

  it('an emergency stop latches every controller until the operator releases it', async () => {
    const a = new Toy('a', [der('bess-25')], [{ kind: 'der-setpoint', id: 'bess-25', p_mw: 0.1 }]);
    const b = new Toy('b', [der('bess-10')], [{ kind: 'der-setpoint', id: 'bess-10', p_mw: 0.1 }]);
    const twin = await twinFromFiles({ grid, dt_s: 0.01, controllers: [a, b] });
    twin.step([]);
    expect(a.refused.length + b.refused.length).toBe(0);
    twin.command({ kind: 'emergency-stop' });
    for (let k = 0; k < 10; k++) twin.step([]);
    expect(a.refused.length).toBeGreaterThan(0);
    expect(new Set([...a.refused, ...b.refused].map((r) => r.reason))).toEqual(new Set(['latched']));
    expect(b.refused.length).toBe(a.refused.length);
    expect(twin.applyActions('a', [{ kind: 'der-setpoint', id: 'bess-25', p_mw: 0 }])[0].reason).toBe(
      'latched',
    );
    twin.ownership.unlatch();
    expect(twin.applyActions('a', [{ kind: 'der-setpoint', id: 'bess-25', p_mw: 0 }])).toEqual([]);
  });
});

describe('a controller inside simulate', () => {
  async function run(withToy: boolean): Promise<{ hash: string; bess: number }> {
    const scenario = await loadScenario('scenarios/mg2-load-step.yaml');
    scenario.duration_s = 8;
    const h = createHash('sha256');
    let bess = 0;
    const result = await runScenario(scenario, {
      dt_s: 0.01,
      controllers: withToy
        ? () => [
            // Charges MG1's battery at 0.15 MW, decided every 0.5 s of twin time.
            new Toy('toy', [der('bess-25')], [{ kind: 'der-setpoint', id: 'bess-25', p_mw: -0.15 }], 0.5),
          ]
        : undefined,
      onStep: (s) => {
        h.update(new Uint8Array(s.vm_pu.buffer, s.vm_pu.byteOffset, s.vm_pu.byteLength));
        for (const i of s.islands) h.update(`${i.f_hz}`);
        bess = s.devices['bess-25'].p_mw;
      },
    });
    expect(result.steps).toBe(800);
    return { hash: h.digest('hex'), bess };
  }

  it('changes the outcome, the same way every time', async () => {
    const plain = await run(false);
    const a = await run(true);
    const b = await run(true);
    expect(a.hash).toBe(b.hash);
    expect(a.hash).not.toBe(plain.hash);
    expect(plain.bess).toBeCloseTo(0, 2);
    expect(a.bess).toBeCloseTo(-0.15, 2);
  });
});
