import { describe, expect, it } from 'vitest';
import { actionsProblem } from './host.ts';
import { checkControllerSpecs } from './spec.ts';

describe('controller declarations', () => {
  it('refuses what is not a declaration, naming the entry', () => {
    expect(() => checkControllerSpecs({}, '.')).toThrow('controllers: controllers must be a list');
    expect(() => checkControllerSpecs(['x'], '.')).toThrow('controllers[0]: a controller is an object');
    expect(() => checkControllerSpecs([{ module: 'setpoint-schedule', id: 'a', options: [1] }], '.')).toThrow(
      'controllers[0].options: options must be an object',
    );
    expect(() => checkControllerSpecs([{ module: '', id: 'a' }], '.')).toThrow('controllers[0].module');
  });
});

describe('actions a controller answers with', () => {
  it('accepts well-formed actions', () => {
    expect(
      actionsProblem([
        { kind: 'der-setpoint', id: 'bess-25', p_mw: 0.1 },
        { kind: 'der-setpoint', id: 'pv-24', q_mvar: -0.05 },
        { kind: 'fid-setpoint', id: 'fid-18-33', p_mw: -0.2 },
        { kind: 'fid-setpoint', id: 'fid-25-29', p_mw: 0.1, ramp_s: 60 },
        { kind: 'breaker', id: 'S1', closed: false },
        { kind: 'load-curtail', id: 'load-24', fraction: 0.25 },
      ]),
    ).toBeUndefined();
    expect(actionsProblem([])).toBeUndefined();
  });

  it('says what is wrong with garbage', () => {
    expect(actionsProblem(undefined)).toBe('expected a list of actions, got undefined');
    expect(actionsProblem([null])).toBe('action 0: not an object');
    expect(actionsProblem([{ kind: 'launch', id: 'x' }])).toMatch(/action 0: unknown kind "launch"/);
    expect(actionsProblem([{ kind: 'breaker', id: '', closed: true }])).toMatch(
      /id must be a non-empty string/,
    );
    expect(actionsProblem([{ kind: 'der-setpoint', id: 'b', p_mw: Number.POSITIVE_INFINITY }])).toMatch(
      /p_mw must be a finite number/,
    );
    expect(actionsProblem([{ kind: 'der-setpoint', id: 'b' }])).toMatch(/no p_mw or q_mvar/);
    expect(actionsProblem([{ kind: 'fid-setpoint', id: 'f' }])).toMatch(/p_mw is missing/);
    expect(actionsProblem([{ kind: 'fid-setpoint', id: 'f', p_mw: 0, ramp_s: -1 }])).toBe(
      'action 0 (fid-setpoint f): ramp_s must be ≥ 0',
    );
    expect(actionsProblem([{ kind: 'fid-setpoint', id: 'f', p_mw: 0, ramp_s: Number.NaN }])).toMatch(
      /ramp_s must be a finite number/,
    );
    expect(actionsProblem([{ kind: 'breaker', id: 'S1', closed: 'yes' }])).toMatch(
      /closed must be true or false/,
    );
    expect(actionsProblem([{ kind: 'load-curtail', id: 'l', fraction: 1.5 }])).toMatch(/within 0…1/);
  });
});
