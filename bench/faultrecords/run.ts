import { Twin } from '../../twin/twin.ts';
import { RunRecorder } from '../recording/index.ts';
import { snapshotOfState, snapshotToPoints, updateBusIslands } from '../runtime/snapshot-points.ts';
import { buildDriveSeries, checkPlausibleDrive, type DriveSpec } from './drive.ts';
import { loadFaultRecord } from './index.ts';

export interface FaultRunOptions {
  record: string;
  grid: string;
  spec: DriveSpec;
  runsDir: string;
  seed?: number;
  dt_s?: number;
  /** Recorded samples per second. @default 100 */
  record_hz?: number;
  /** Extra seconds after the record ends (the grid holds the record's last values). @default 0 */
  tail_s?: number;
}

/**
 * Runs the twin with its main grid following a fault record, as fast as possible, and records
 * the run like any other (so `gridloop report` works on it). Returns the run folder.
 */
export async function runFaultRecord(
  options: FaultRunOptions,
): Promise<{ runDir: string; steps: number; duration_s: number; warnings: string[] }> {
  const dt_s = options.dt_s ?? 0.001;
  const record = await loadFaultRecord(options.record);
  const trace = buildDriveSeries(record.signals, options.spec, dt_s, record.nominal_hz);
  const twin = await Twin.fromFiles({ grid: options.grid, seed: options.seed ?? 1, dt_s, gridTrace: trace });
  // Judged against the grid it drives (a --frequency-scale can move a record to another nominal).
  checkPlausibleDrive(trace, twin.f0_hz);
  const rec = await RunRecorder.open({
    runsDir: options.runsDir,
    scenario: 'fault-record',
    manifest: {
      grid: options.grid,
      seed: options.seed ?? 1,
      dt_s,
      mode: 'fault-record',
      faultRecord: { path: options.record, kind: record.kind, spec: options.spec },
    },
  });
  try {
    const every = Math.max(1, Math.round(1 / ((options.record_hz ?? 100) * dt_s)));
    const steps = trace.t_s.length + Math.round((options.tail_s ?? 0) / dt_s);
    const warnings = record.comtrade?.warnings ?? [];
    for (const message of warnings) rec.event({ kind: 'warning', message, source: 'scenario', t_s: 0 });
    rec.event({
      kind: 'fault-record',
      message: `main grid driven from ${options.record}`,
      source: 'scenario',
      t_s: 0,
    });
    // A fault-record run has no real-time loop: its timing fields stay zero.
    const loop = { lateness_us: 0, work_us: 0, overruns: 0 };
    const busIsland = new Map<string, string>();
    const updateIslands = (islands: readonly { id: string; buses: string[] }[]) => {
      updateBusIslands(
        islands,
        islands.map((island) => island.buses),
        busIsland,
      );
      return busIsland;
    };
    for (let step = 0; step < steps; step++) {
      const state = twin.step([]);
      for (const e of state.events) rec.event({ ...e, source: 'twin' });
      if (step % every !== 0) continue;
      snapshotToPoints(
        snapshotOfState(state, loop),
        state.busIds,
        rec.start_ns,
        (m, tags, fields, t) => rec.point(m, tags, fields, t),
        { busIsland: updateIslands(state.islands) },
      );
      if (step % 5000 === 0) await new Promise((r) => setImmediate(r));
    }
    await rec.close({ status: 'complete' });
    return { runDir: rec.dir, steps, duration_s: steps * dt_s, warnings };
  } catch (err) {
    await rec.close({ status: 'failed', reason: (err as Error).message });
    throw err;
  }
}
