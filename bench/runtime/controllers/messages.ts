/**
 * Messages between the loop process and one controller's worker thread (host.ts ↔ worker.ts).
 * Everything crosses by structured clone: the worker never shares memory with the loop.
 */
import type { TwinEvent, TwinState } from '../../../twin/api.ts';
import type {
  ActuatorRef,
  ControllerAction,
  ControllerInput,
  ControllerTelemetry,
  RefusedAction,
  TwinCatalog,
} from '../../../twin/control/contract.ts';

/** The worker's start-up data. */
export interface ControllerWorkerData {
  /** Absolute file path of the module whose default export is the ControllerFactory. */
  module: string;
  id: string;
  options: Record<string, unknown>;
  catalog: TwinCatalog;
  /** The run's folder, when the run is recorded (ControllerFactory's `runDir`). */
  runDir?: string;
}

export type HostToController =
  | { type: 'decide'; seq: number; state: TwinState }
  | { type: 'feedback'; refused: RefusedAction[]; events: TwinEvent[] }
  /** A message from outside the twin (a prosumer's preferences): `Controller.input`. */
  | { type: 'input'; message: ControllerInput }
  /** The run ends: detach and let the thread end. */
  | { type: 'detach' };

export type ControllerToHost =
  /** Built and attached: what it claims and how often it decides. */
  | { type: 'ready'; period_s: number; claims: ActuatorRef[] }
  /** The module could not be loaded or the controller built or attached. */
  | { type: 'failed'; message: string }
  /** One decision: `actions` as the controller wrote them (unchecked: the host checks). */
  | {
      type: 'decided';
      seq: number;
      actions: ControllerAction[];
      decide_ms: number;
      /** `Controller.telemetry()` right after the decision, when it has one. */
      telemetry?: ControllerTelemetry;
    }
  /**
   * The worker took `detach` and is finishing it (an asynchronous detach, e.g. the market writing its
   * chain): the host gives it its decision timeout instead of cutting it off.
   */
  | { type: 'detaching' }
  /** `Controller.input` refused a message (threw): why, for the run's events. */
  | { type: 'input-refused'; message: string }
  /** decide() threw (or its actions could not be posted). */
  | { type: 'threw'; seq: number; message: string };
