/** Devices and links, row "Real-time loop": lateness, work time, overruns and recorder queue. */

import { type Row, RUN, target, timeseriesPanel } from '../defaults.ts';

export function loopLateness() {
  return timeseriesPanel(
    11,
    'Loop lateness',
    'Step start lateness against the schedule: mean and worst per interval.',
  )
    .unit('µs')
    .withTarget(
      target(
        'A',
        {
          from: 'loop',
          fields: [
            { field: 'lateness_us', fn: 'mean', as: 'mean' },
            { field: 'lateness_us', fn: 'max', as: 'max' },
          ],
          where: [RUN],
        },
        'lateness $col',
      ),
    )
    .withTarget(
      target(
        'B',
        { from: 'loop', fields: [{ field: 'work_us', fn: 'max', as: 'work max' }], where: [RUN] },
        '$col',
      ),
    );
}

/** Overruns are cumulative; the recorder's queue depth shows whether recording keeps up. */
export function loopOverruns() {
  return timeseriesPanel(
    12,
    'Overruns and recorder queue',
    'Cumulative step overruns, and recorder queue depth.',
  )
    .unit('short')
    .decimals(0)
    .withTarget(
      target(
        'A',
        {
          from: 'loop',
          fields: [
            { field: 'overruns', fn: 'max', as: 'overruns' },
            { field: 'queue_depth', fn: 'max', as: 'queue depth' },
          ],
          where: [RUN],
        },
        '$col',
      ),
    );
}

export function loopRow(): Row {
  return { title: 'Real-time loop', id: 10, panels: [loopLateness(), loopOverruns()] };
}
