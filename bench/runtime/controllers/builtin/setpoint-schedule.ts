/**
 * `module: setpoint-schedule`: drives one DER's active-power set-point along a schedule of twin
 * times, e.g. `options: { der: bess1, schedule: [[0, 0.2], [60, -0.1]] }` (from t = 0 s 0.2 MW, from
 * t = 60 s −0.1 MW). A set-point is sent when the schedule moves to a new value (again when refused).
 */
import type { ControllerAction } from '../../../../twin/control/contract.ts';
import type { ControllerFactory } from '../spec.ts';

const setpointSchedule: ControllerFactory = (options, { id }) => {
  const der = options.der;
  const schedule = options.schedule;
  if (typeof der !== 'string' || der === '') throw new TypeError(`${id}: options.der must be a DER id`);
  if (
    !Array.isArray(schedule) ||
    schedule.length === 0 ||
    !schedule.every(
      (p, i) =>
        Array.isArray(p) &&
        p.length === 2 &&
        p.every((x) => typeof x === 'number' && Number.isFinite(x)) &&
        (i === 0 || p[0] > schedule[i - 1][0]),
    )
  ) {
    throw new TypeError(`${id}: options.schedule must be [[t_s, p_mw], …] with increasing times`);
  }
  const points = schedule as [number, number][];
  const period_s = typeof options.period_s === 'number' && options.period_s > 0 ? options.period_s : 0.1;
  let sent: number | undefined;
  return {
    id,
    period_s,
    claims: [{ kind: 'der', id: der }],
    decide(state, actions: ControllerAction[]) {
      let p: number | undefined;
      for (const [t_s, p_mw] of points) if (state.t_s + 1e-9 >= t_s) p = p_mw;
      if (p === undefined || p === sent) return;
      sent = p;
      actions.push({ kind: 'der-setpoint', id: der, p_mw: p });
    },
    feedback() {
      sent = undefined;
    },
  };
};
export default setpointSchedule;
