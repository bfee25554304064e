/** Devices and links, row "Real-time loop": lateness, work time, overruns and the recorder queue. */

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

/** Overruns are cumulative over the run. */
export function loopOverruns() {
  return timeseriesPanel(12, 'Overruns', 'Cumulative count of steps that finished after their deadline.')
    .unit('short')
    .decimals(0)
    .withTarget(
      target(
        'A',
        { from: 'loop', fields: [{ field: 'overruns', fn: 'max', as: 'overruns' }], where: [RUN] },
        '$col',
      ),
    );
}

/** Bytes the recorder holds in memory before compressing them: it rises when recording falls behind. */
export function recorderQueue() {
  return timeseriesPanel(13, 'Recorder queue', 'Bytes queued in the recorder, sampled once a second.')
    .unit('bytes')
    .withTarget(
      target(
        'A',
        { from: 'recorder', fields: [{ field: 'queue_bytes', fn: 'max', as: 'queued' }], where: [RUN] },
        '$col',
      ),
    );
}

export function loopRow(): Row {
  return { title: 'Real-time loop', id: 10, panels: [loopLateness(), loopOverruns(), recorderQueue()] };
}
