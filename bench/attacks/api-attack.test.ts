import { describe, expect, it } from 'vitest';
import { requiredRole, validateCommand } from '../server/commands.ts';
import { toTwinCommand } from '../server/twin-bridge.ts';

describe('attack command of the socket.io API', () => {
  it('validates, needs admin, and maps onto the twin command', () => {
    const v = validateCommand({
      type: 'attack',
      action: 'start',
      kind: 'dos-drop',
      target: 'bess-hw.f_hz',
      probability: 1,
      duration_s: 5,
    });
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(requiredRole(v.command, null)).toBe('admin');
    expect(toTwinCommand(v.command)).toEqual({
      kind: 'attack',
      action: 'start',
      attack: { kind: 'dos-drop', target: 'bess-hw.f_hz', probability: 1, duration_s: 5 },
    });
    const stop = validateCommand({ type: 'attack', action: 'stop', id: 'a1' });
    expect(stop.ok && toTwinCommand(stop.command)).toEqual({ kind: 'attack', action: 'stop', id: 'a1' });
  });

  it('refuses malformed attack commands with the JSON path', () => {
    expect(validateCommand({ type: 'attack', action: 'launch' })).toEqual({
      ok: false,
      reason: 'command/action must be one of start, stop',
    });
    expect(validateCommand({ type: 'attack', action: 'start', bias: 'big' })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/command\/bias must be number/),
    });
    expect(validateCommand({ type: 'attack', action: 'start', zap: 1 })).toMatchObject({
      ok: false,
      reason: "command has unknown field 'zap'",
    });
  });
});
