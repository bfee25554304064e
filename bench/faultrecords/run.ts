import { Twin } from '../../twin/twin.ts';
import { RunRecorder } from '../recording/index.ts';
import { buildDriveSeries, type DriveSpec } from './drive.ts';
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
): Promise<{ runDir: string; steps: number; duration_s: number }> {
  const dt_s = options.dt_s ?? 0.001;
  const record = await loadFaultRecord(options.record);
  const trace = buildDriveSeries(record.signals, options.spec, dt_s, record.nominal_hz);
  const twin = await Twin.fromFiles({ grid: options.grid, seed: options.seed ?? 1, dt_s, gridTrace: trace });
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
    rec.event({
      kind: 'fault-record',
      message: `main grid driven from ${options.record}`,
      source: 'scenario',
      t_s: 0,
    });
    for (let step = 0; step < steps; step++) {
      const state = twin.step([]);
      for (const e of state.events) rec.event({ ...e, source: 'twin' });
      if (step % every !== 0) continue;
      const t = rec.timeOf(state.t_s);
      for (const island of state.islands) {
        rec.point(
          'island',
          { island: island.id },
          {
            f_hz: island.f_hz,
            rocof_hz_s: island.rocof_hz_s,
            energised: island.energised,
            grid_connected: island.gridConnected,
          },
          t,
        );
      }
      for (let i = 0; i < state.busIds.length; i++) {
        rec.point('bus', { bus: state.busIds[i] }, { vm_pu: state.vm_pu[i], va_deg: state.va_deg[i] }, t);
      }
      for (const [device, d] of Object.entries(state.devices)) {
        const fields: Record<string, number | boolean> = { p_mw: d.p_mw, q_mvar: d.q_mvar, online: d.online };
        if (d.soc !== undefined) fields.soc = d.soc;
        if (d.tripped !== undefined) fields.tripped = d.tripped;
        rec.point('device', { device }, fields, t);
      }
      if (step % 5000 === 0) await new Promise((r) => setImmediate(r));
    }
    await rec.close({ status: 'complete' });
    return { runDir: rec.dir, steps, duration_s: steps * dt_s };
  } catch (err) {
    await rec.close({ status: 'failed', reason: (err as Error).message });
    throw err;
  }
}
