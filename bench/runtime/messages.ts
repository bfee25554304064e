/**
 * Messages between the bench process and its real-time loop process. The loop owns the twin and
 * the device links (so a frame goes from serial port to twin without crossing threads); the bench
 * thread owns everything slow: recording, the web server, the CLI.
 */
import type { TwinCommand, TwinEvent, TwinState } from '../../twin/api.ts';
import type { DetectorSample } from '../../twin/detection/alarms.ts';
import type { SeDetectorOptions } from '../../twin/detection/state-estimation.ts';
import type { AssertionOutcome } from '../../twin/scenario/assertions.ts';
import type { TwinAction } from '../../twin/twin.ts';
import type { ReplayRecord } from '../recording/replay-log.ts';
import type { OverrunPolicy } from './pacer.ts';

export type DeviceDriver = 'firmware' | 'sunspec' | 'simulated';

/**
 * How one twin device maps onto a real (or simulated) one: the run config's device mapping,
 * documented in docs/bench.md. Powers cross the mapping as
 * `p_twin_mw = sign · p_device_w · powerScale / 1e6`, with sign −1 for a device that reports in
 * load convention (positive = consumed).
 */
export interface DeviceLinkConfig {
  /** Device id as the twin knows it (a `hardware` device of the grid, or placed by `bus`). */
  id: string;
  /** @default 'firmware' */
  driver?: DeviceDriver;
  /** Serial device path, e.g. /dev/ttyACM0 or a pseudo-terminal (not for 'simulated'). */
  path?: string;
  /** @default 921600 for firmware, 19200 for sunspec */
  baud?: number;
  /** Twin bus the device sits on (overrides the grid file's `hardware` entry). */
  bus?: string;
  /** Twin-side rating, MVA (with `bus`). @default 1 */
  rating_mva?: number;
  /** Exchange with the device every this many steps. @default 10 (sunspec: 100) */
  exchangeEvery?: number;
  /** Twin watts per device watt, e.g. 100 when a 5 kW lab inverter stands for a 500 kW unit. @default 1 */
  powerScale?: number;
  /** How the device reports power. @default 'generator' (positive = injected) */
  signConvention?: 'generator' | 'load';
  /**
   * While the link is down: 'twin' lets the twin apply the grid's fallback for the unit (hold or
   * zero); 'simulated' substitutes a simulated device (the twin's battery model) until it returns;
   * 'trip' reports the unit tripped (zero output).
   * @default 'twin'
   */
  fallback?: 'twin' | 'simulated' | 'trip';
  /** Exchanges without an answer before the device is declared offline. @default 3 */
  missedBeforeOffline?: number;
  /** Protocol device id in frame headers (firmware) or Modbus unit id (sunspec). @default 1 */
  protocolDeviceId?: number;
  /** Firmware protocol signing: shared 32-byte key (hex), link id, and whether unsigned frames are refused. */
  signing?: { keyHex: string; linkId?: number; requireSigned?: boolean };
  /** Set-point limits in device units, enforced before anything is sent. */
  limits?: SafetyLimitsConfig;
  /** Simulated device parameters (driver 'simulated', or the 'simulated' fallback). */
  simulated?: SimulatedDeviceConfig;
}

export interface SafetyLimitsConfig {
  pMax_w?: number;
  pMin_w?: number;
  qMaxAbs_var?: number;
  pRate_w_s?: number;
  qRate_var_s?: number;
}

export interface SimulatedDeviceConfig {
  /** Rated power, device W. @default 10000 */
  rating_w?: number;
  /** @default 10000 */
  capacity_wh?: number;
  /** @default 0.5 */
  soc0?: number;
  /** Frequency droop, pu of rating per pu of frequency. @default 0.05 */
  droop_pu?: number;
  /** @default 50 */
  f0_hz?: number;
}

export interface LoopConfig {
  /**
   * Twin construction (resolved by twin-factory.ts inside the loop process). With `scenario` (a
   * scenario file) the grid comes from the scenario and `grid` is only a label.
   */
  twin: { grid: string; scenario?: string; seed: number; dt_s: number };
  devices: DeviceLinkConfig[];
  /** Send a snapshot to the main thread every this many steps (recording and live view). */
  snapshotEvery: number;
  overrunPolicy: OverrunPolicy;
  /** Stop after this many seconds of twin time; run until told to stop when absent. */
  duration_s?: number;
  /** Actions applied at twin times (a scenario's timed events). */
  schedule?: { t_s: number; action: TwinAction }[];
  /** Steps of a throwaway twin copy run before the clock starts (JIT warm-up). @default 500 */
  warmupSteps?: number;
  /** Pacer tuning (see pacer.ts). */
  pacer?: { sleepUntil_ms?: number; spin_us?: number; idleSlice_us?: number };
  /**
   * Real-time scheduling of the loop process (Linux, needs CAP_SYS_NICE / root): SCHED_FIFO at
   * `priority` (1–99) via chrt, pinned to `cpu` via taskset. Failures are reported as loop events,
   * never fatal.
   */
  realtime?: { priority?: number; cpu?: number };
  /**
   * Attack detectors run live (bench/attacks/live-detectors.ts, docs/security.md): `estimation`
   * is the χ² state-estimation detector on one microgrid (every_steps @default 100), its WLS
   * estimate in a worker thread. Alarms arrive as `alarm` events, evaluations as `detectorSamples`.
   * Absent: no detector runs.
   */
  detectors?: { estimation?: SeDetectorOptions };
}

/** Distribution of the loop's per-step timing over a whole run. */
export interface TimingSummary {
  steps: number;
  overruns: number;
  lateness_us: { p50: number; p99: number; max: number };
  work_us: { p50: number; p99: number; max: number };
  /** Twin seconds per wall-clock second over the run (1 = kept pace). */
  realTimeFactor: number;
  wall_s: number;
  /** CPU time of the loop process, µs. */
  cpu_user_us: number;
  cpu_system_us: number;
  /** Garbage-collection pauses in the loop process over the run (each one stalls the loop). */
  gc: { count: number; total_ms: number; max_ms: number };
  /** The ten latest-starting steps, latest first, with their own and their predecessor's work. */
  worstSteps: { step: number; lateness_us: number; work_us: number; previousWork_us: number }[];
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
  fids?: TwinState['fids'];
  /** Per microgrid: PCC power (import positive, MW/Mvar), EMS mode, islanded (TwinState.microgrids). */
  microgrids?: TwinState['microgrids'];
  /** Breaker id -> closed, every switch and branch (TwinState.breakers). */
  breakers?: TwinState['breakers'];
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
  driver: DeviceDriver;
  online: boolean;
  /** Round-trip time of answered exchanges (recent window), µs. NaN before the first answer. */
  rtt_us_p50: number;
  rtt_us_p99: number;
  rtt_us_max: number;
  framesRx: number;
  framesTx: number;
  /** Frames rejected by the deframer (CRC, COBS, length, signature …), by reason. */
  badFrames: number;
  crcErrors: number;
  authErrors: number;
  /** Frames dropped before the wire (queue full, link closed). */
  dropped: number;
  /** Exchanges never answered. */
  missed: number;
  /**
   * Answers too late to use: after the next exchange was sent (firmware), after their request
   * timed out, or answering nothing pending (SunSpec; docs/bench.md). Never decoded as current.
   */
  late: number;
  heartbeats: number;
  /** Times the link went offline. */
  outages: number;
  /** Set-points sent and set-points changed by the safety limits. */
  setpointsSent: number;
  setpointsLimited: number;
}

/** Something that happened to a link, stamped with twin time by the loop. */
export interface LinkEvent {
  kind:
    | 'link-offline'
    | 'link-online'
    | 'link-port-lost'
    | 'link-port-reopened'
    | 'setpoint-limited'
    | 'emergency-stop'
    | 'device-hello';
  deviceId: string;
  message: string;
}

export type WorkerToMain =
  | { type: 'ready' }
  | {
      type: 'batch';
      snapshots: Snapshot[];
      events: TwinEvent[];
      frames: CapturedFrame[];
      links: LinkStats[];
      /** Step-stamped inputs, commands and output hashes for `gridloop replay` (docs/recording.md). */
      replay?: ReplayRecord[];
      /** Evaluations of the live detectors (LoopConfig.detectors) since the previous batch. */
      detectorSamples?: DetectorSample[];
    }
  | {
      type: 'stopped';
      reason: 'requested' | 'duration' | 'overrun';
      steps: number;
      overruns: number;
      timing: TimingSummary;
      links: LinkStats[];
      /** Scenario assertion outcomes (scenario runs that reached their end). */
      assertions?: AssertionOutcome[];
    }
  | { type: 'error'; message: string }
  /** The scenario player's state changed (started, paused, resumed, stopped, finished). */
  | { type: 'scenario-status'; status: ScenarioStatus }
  | { type: 'command-result'; id: number; ok: true; event: TwinEvent }
  | { type: 'command-result'; id: number; ok: false; error: string };

export type ScenarioAction = 'start' | 'stop' | 'pause' | 'resume';

/** Where the loop's scenario player is. */
export interface ScenarioStatus {
  scenario: string;
  file: string;
  state: 'playing' | 'paused' | 'finished' | 'stopped';
  /** Scenario seconds played, and the scenario's length. */
  elapsed_s: number;
  duration_s: number;
  /** With state 'finished': whether every assertion passed. */
  passed?: boolean;
}

export type MainToWorker =
  | { type: 'stop' }
  | { type: 'command'; id: number; command: TwinCommand }
  /** Scenario control; `file` (start only) is a scenario file path the loop process can read. */
  | { type: 'scenario'; id: number; action: ScenarioAction; file?: string };
