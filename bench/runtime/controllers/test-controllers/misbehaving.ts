/** Test controller that misbehaves as `options.mode` says: throw, hang, garbage, or a foreign actuator. */
import type { ControllerAction } from '../../../../twin/control/contract.ts';
import type { ControllerFactory } from '../spec.ts';

const misbehaving: ControllerFactory = (options, { id }) => {
  const mode = String(options.mode);
  if (mode === 'throw-at-build') throw new Error('cannot build: no licence for the optimiser');
  return {
    id,
    period_s: 0.05,
    claims: mode === 'claim' ? [{ kind: 'fid', id: String(options.fid) }] : [],
    decide(_state, actions) {
      if (mode === 'throw') throw new Error('solver diverged');
      if (mode === 'hang') for (;;) {}
      if (mode === 'garbage') {
        actions.push({ kind: 'der-setpoint', id: 'bess-25', p_mw: Number.NaN } as ControllerAction);
        return;
      }
      // An actuator it never claimed: refused by ownership.
      if (mode === 'foreign') actions.push({ kind: 'fid-setpoint', id: String(options.fid), p_mw: 0.2 });
    },
  };
};
export default misbehaving;
