/**
 * Messages between the bench process and its real-time loop process. The loop owns the twin and
 * the device links (so a frame goes from serial port to twin without crossing processes); the bench
 * process (the host) owns everything slow: recording, the web server, the CLI.
 */
import type { TwinCommand, TwinEvent, TwinState } from '../../twin/api.ts';
import type { ControllerInput } from '../../twin/control/contract.ts';
import type { DetectorSample } from '../../twin/detection/alarms.ts';
import type { SeDetectorOptions } from '../../twin/detection/state-estimation.ts';
import type { AssertionOutcome } from '../../twin/scenario/assertions.ts';
import type { TwinAction } from '../../twin/twin.ts';
import type { CapturedFrame, DeviceLinkConfig, LinkStats } from '../devices/link-config.ts';
import type { ReplayRecord } from '../recording/replay-log.ts';
import type { HostedControllerStats, HostedTelemetry } from './controllers/host.ts';
import type { ControllerSpec } from './controllers/spec.ts';
import type { OverrunPolicy } from './pacer.ts';

export interface LoopConfig {
  /**
   * Twin construction (resolved by twin-factory.ts inside the loop process). With `scenario` (a
   * scenario file) the grid comes from the scenario and `grid` is only a label.
   */
  twin: { grid: string; scenario?: string; seed: number; dt_s: number };
  devices: DeviceLinkConfig[];
  /** Send a snapshot to the bench process every this many steps (recording and live view). */
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
  /**
   * Controllers hosted off the step path, each in a worker thread (controllers/host.ts,
   * docs/bench.md "Controllers"); modules resolved to absolute paths (controllers/spec.ts).
   */
  controllers?: ControllerSpec[];
  /**
   * The run's folder, when the run is recorded: hosted controllers get it (ControllerFactory's
   * `runDir`) to write their own records there (the market its chain, at detach).
   */
  runDir?: string;
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

// The device-side types, for the loop's users that import them from here.
export type {
  CapturedFrame,
  DeviceDriver,
  DeviceLinkConfig,
  LinkEvent,
  LinkStats,
  SafetyLimitsConfig,
  SimulatedDeviceConfig,
} from '../devices/link-config.ts';

export type LoopToHost =
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
      /** Reports of the hosted controllers after their decisions (`Controller.telemetry`). */
      controllerTelemetry?: HostedTelemetry[];
    }
  | {
      type: 'stopped';
      reason: 'requested' | 'duration' | 'overrun';
      steps: number;
      overruns: number;
      timing: TimingSummary;
      links: LinkStats[];
      /** What each hosted controller did (LoopConfig.controllers). */
      controllers?: HostedControllerStats[];
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

export type HostToLoop =
  | { type: 'stop' }
  | { type: 'command'; id: number; command: TwinCommand }
  /** A message for the hosted controllers (`Controller.input`), e.g. a prosumer's preferences. */
  | { type: 'controller-input'; message: ControllerInput }
  /** Scenario control; `file` (start only) is a scenario file path the loop process can read. */
  | { type: 'scenario'; id: number; action: ScenarioAction; file?: string };
