/**
 * Test controller: busy-waits `busy_ms` of wall time in every decision (a slow optimiser), then
 * moves a FID's transfer set-point between two values.
 */
import type { ControllerFactory } from '../spec.ts';

const busy: ControllerFactory = (options, { id }) => {
  const fid = String(options.fid);
  const busy_ms = Number(options.busy_ms ?? 200);
  let calls = 0;
  return {
    id,
    period_s: Number(options.period_s ?? 0.1),
    claims: [{ kind: 'fid', id: fid }],
    decide(_state, actions) {
      const end = performance.now() + busy_ms;
      while (performance.now() < end) {
        // a slow decision, holding its thread
      }
      calls++;
      actions.push({ kind: 'fid-setpoint', id: fid, p_mw: calls % 2 === 0 ? 0.05 : 0.15 });
    },
  };
};
export default busy;
