/**
 * Fault-record replay: read a recorded disturbance (IEEE C37.111 COMTRADE .cfg/.dat or .cff, or a
 * CSV) and turn it into the main grid's frequency/voltage trace (`TwinOptions.gridTrace`) or a
 * bus drive for the devices at one bus. See docs/recording.md § Fault records.
 *
 *   const record = await loadFaultRecord('fault.cfg');
 *   const trace = buildDriveSeries(record.signals, {
 *     frequency: { channel: 'VA', from: 'waveform' },
 *     voltage: { channel: 'VA', from: 'waveform', base: 63500 },
 *   }, twin.dt_s, record.nominal_hz);
 *   const twin = await Twin.fromFiles({ grid, gridTrace: trace });
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { ComtradeRecord } from './comtrade.ts';
import { comtradeSignals, FaultRecordError, parseCsvRecord, type Signal } from './drive.ts';
import { loadComtrade } from './load.ts';

export * from './comtrade.ts';
export * from './drive.ts';
export { loadComtrade } from './load.ts';

export interface FaultRecord {
  path: string;
  kind: 'comtrade' | 'csv';
  signals: Map<string, Signal>;
  /** Line frequency the record states (COMTRADE), else undefined. */
  nominal_hz?: number;
  comtrade?: ComtradeRecord;
}

/** Loads a fault record by extension: .cfg/.dat/.cff (COMTRADE) or .csv. */
export async function loadFaultRecord(path: string): Promise<FaultRecord> {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new FaultRecordError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code})`);
    }
    return { path, kind: 'csv', signals: parseCsvRecord(text, path) };
  }
  const comtrade = await loadComtrade(path);
  return {
    path,
    kind: 'comtrade',
    signals: comtradeSignals(comtrade),
    nominal_hz: comtrade.config.lineFrequency_hz > 0 ? comtrade.config.lineFrequency_hz : undefined,
    comtrade,
  };
}
export { type FaultRunOptions, runFaultRecord } from './run.ts';
