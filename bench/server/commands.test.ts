import { describe, expect, it } from 'vitest';
import type { GridTopology } from './api.ts';
import { commandsFor, requiredRole, roleAllows, unknownReference, validateCommand } from './commands.ts';

const topology: GridTopology = {
  name: 't',
  frequency_hz: 50,
  layout: 'auto',
  buses: [],
  lines: [{ id: 'L5-6', from: '5', to: '6', kind: 'line', inService: false, breaker: true }],
  loads: [],
  switches: [{ id: 'pcc1', kind: 'breaker', from: '1', to: '2', closed: true }],
  ders: [
    { id: 'pv', bus: '2', technology: 'pv', rating_mva: 1 },
    { id: 'hw', bus: '2', technology: 'battery', rating_mva: 1, hardware: true },
  ],
  fids: [{ id: 'fid1', busA: '1', busB: '2', rating_mva: 1 }],
  microgrids: [{ id: 'mg1' }],
};

describe('validateCommand', () => {
  it('accepts every command shape of the API', () => {
    for (const command of [
      { type: 'breaker', id: 'pcc1', closed: false },
      { type: 'island', islanded: true },
      { type: 'island', microgrid: 'mg1', islanded: false },
      { type: 'scenario', action: 'pause' },
      { type: 'scenario', action: 'start', name: 'load-step' },
      { type: 'setpoint', deviceId: 'pv', q_mvar: -0.1 },
      { type: 'fid-setpoint', fidId: 'fid1', p_mw: -0.2 },
      { type: 'fid-setpoint', fidId: 'fid1', p_mw: 0.2, ramp_s: 30 },
      { type: 'emergency-stop' },
      { type: 'rotate-token', role: 'viewer' },
    ]) {
      expect(validateCommand(command)).toEqual({ ok: true, command });
    }
  });

  it('names the JSON path of what is wrong', () => {
    expect(validateCommand({ type: 'fid-setpoint', fidId: 'f', p_mw: '1' })).toEqual({
      ok: false,
      reason: 'command/p_mw must be number',
    });
    expect(validateCommand({ type: 'fid-setpoint', fidId: 'f', p_mw: 1, ramp_s: -5 })).toEqual({
      ok: false,
      reason: 'command/ramp_s must be >= 0',
    });
    expect(validateCommand({ type: 'rotate-token', role: 'root' })).toEqual({
      ok: false,
      reason: 'command/role must be one of viewer, operator, admin',
    });
    expect(validateCommand({})).toEqual({ ok: false, reason: "command must have required property 'type'" });
    expect(validateCommand({ type: 'emergency-stop', now: true })).toEqual({
      ok: false,
      reason: "command has unknown field 'now'",
    });
  });
});

describe('authorisation', () => {
  it('ranks roles and lists what each may send', () => {
    expect(commandsFor('viewer')).toEqual([]);
    expect(commandsFor('operator')).not.toContain('rotate-token');
    expect(commandsFor('operator')).not.toContain('attack');
    expect(commandsFor('admin')).toHaveLength(8);
    expect(roleAllows('admin', 'operator')).toBe(true);
    expect(roleAllows('viewer', 'operator')).toBe(false);
  });

  it('hardware set-points need admin, simulated ones operator', () => {
    expect(requiredRole({ type: 'setpoint', deviceId: 'hw', p_mw: 1 }, topology)).toBe('admin');
    expect(requiredRole({ type: 'setpoint', deviceId: 'pv', p_mw: 1 }, topology)).toBe('operator');
    expect(requiredRole({ type: 'setpoint', deviceId: 'hw', p_mw: 1 }, null)).toBe('operator');
  });

  it('names unknown grid elements, and trusts the twin when the grid is unknown', () => {
    expect(unknownReference({ type: 'island', microgrid: 'mg9', islanded: true }, topology)).toBe(
      "command/microgrid: no microgrid 'mg9' in the grid",
    );
    expect(unknownReference({ type: 'setpoint', deviceId: 'x', p_mw: 1 }, topology)).toBe(
      "command/deviceId: no device 'x' in the grid",
    );
    expect(unknownReference({ type: 'breaker', id: 'pcc1', closed: true }, topology)).toBeUndefined();
    // Like the twin, any branch can be switched by id.
    expect(unknownReference({ type: 'breaker', id: 'L5-6', closed: true }, topology)).toBeUndefined();
    expect(unknownReference({ type: 'breaker', id: 'zzz', closed: true }, null)).toBeUndefined();
  });
});
