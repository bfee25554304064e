/**
 * A controller action as the twin action it is: what the replay log records and what the device
 * links forward to a board (the twin applies actions itself through `applyActions`).
 */
import type { ControllerAction } from '../../../twin/control/contract.ts';
import type { TwinAction } from '../../../twin/twin.ts';

export function twinActionOf(action: ControllerAction): TwinAction {
  switch (action.kind) {
    case 'der-setpoint':
      return { kind: 'setpoint', deviceId: action.id, p_mw: action.p_mw, q_mvar: action.q_mvar };
    case 'fid-setpoint':
      return {
        kind: 'fid-setpoint',
        fidId: action.id,
        p_mw: action.p_mw,
        ...(action.ramp_s ? { ramp_s: action.ramp_s } : {}),
      };
    case 'breaker':
      return { kind: 'breaker', id: action.id, closed: action.closed };
    case 'load-curtail':
      return { kind: 'load-curtail', load: action.id, fraction: action.fraction };
  }
}
