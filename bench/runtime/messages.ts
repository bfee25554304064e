/**
 * Messages between the bench process and its real-time loop process. The loop owns the twin and
 * the device links (so a frame goes from serial port to twin without crossing threads); the bench
 * thread owns everything slow: recording, the web server, the CLI.
 */
import type { TwinCommand, TwinEvent } from '../../twin/api.ts';
import type { OverrunPolicy } from './pacer.ts';

export interface DeviceLinkConfig {
  /** Device id as the twin knows it (the grid/run config places it at a bus). */
  id: string;
  /** Serial device path, e.g. /dev/ttyACM0 or a pseudo-terminal. */
  path: string;
  /** @default 921600 */
  baud?: number;
  /** Exchange a MEASUREMENT/DEVICE_STATE pair every this many steps. @default 10 */
  exchangeEvery?: number;
  /** Twin watts per device watt, e.g. 100 when a 5 kW lab inverter stands for a 500 kW unit. @default 1 */
  powerScale?: number;
  /** Protocol device id in frame headers. @default 1 */
  protocolDeviceId?: number;
}

export interface LoopConfig {
  /** Twin construction (resolved by twin-factory.ts inside the loop process). */
  twin: { grid: string; scenario?: string; seed: number; dt_s: number };
  devices: DeviceLinkConfig[];
  /** Send a snapshot to the main thread every this many steps (recording and live view). */
  snapshotEvery: number;
  overrunPolicy: OverrunPolicy;
  /** Stop after this many seconds of twin time; run until told to stop when absent. */
  duration_s?: number;
}

/** A copy of the twin state small enough to post every few milliseconds. */
export interface Snapshot {
  t_s: number;
  step: number;
  islands: { id: string; f_hz: number; rocof_hz_s: number; energised: boolean; gridConnected: boolean }[];
  /**
   * Bus ids of each island, index-aligned with `islands`; sent only when the islands changed
   * (first snapshot, and after a breaker or protection rebuilt them).
   */
  islandBuses?: string[][];
  /** Bus ids matching vm_pu/va_deg; sent in the first snapshot only. */
  busIds?: string[];
  vm_pu: number[];
  va_deg: number[];
  devices: Record<string, { p_mw: number; q_mvar: number; soc?: number; online: boolean; tripped?: boolean }>;
  loop: { lateness_us: number; work_us: number; overruns: number };
}

export interface CapturedFrame {
  /** Wall-clock capture time, ns since the Unix epoch (as a decimal string: bigint is not postable). */
  time_ns: string;
  direction: 'tx' | 'rx';
  deviceId: string;
  bytes: Uint8Array;
}

export interface LinkStats {
  deviceId: string;
  online: boolean;
  rtt_us_p50: number;
  rtt_us_max: number;
  framesRx: number;
  framesTx: number;
  badFrames: number;
  missed: number;
}

export type WorkerToMain =
  | { type: 'ready' }
  | { type: 'batch'; snapshots: Snapshot[]; events: TwinEvent[]; frames: CapturedFrame[]; links: LinkStats[] }
  | { type: 'stopped'; reason: 'requested' | 'duration' | 'overrun'; steps: number; overruns: number }
  | { type: 'error'; message: string }
  | { type: 'command-result'; id: number; ok: true; event: TwinEvent }
  | { type: 'command-result'; id: number; ok: false; error: string };

export type MainToWorker = { type: 'stop' } | { type: 'command'; id: number; command: TwinCommand };
