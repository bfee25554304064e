/**
 * What add-ons (attacks, detectors, simulated boards) see of a twin: its channels, network and
 * published state, and the registration of the commands they bring. They depend on this view, not
 * on the Twin class, so the core imports nothing of them and they nothing of the core.
 */
import type { BusMeasurement, TwinCommand, TwinState } from './api.ts';
import type { Channel } from './channels/channel.ts';
import type { Controller } from './control/contract.ts';
import type { HardwareDevice } from './der/hardware.ts';
import type { LoadBank } from './der/load.ts';
import type { Grid } from './grid/model.ts';
import type { PowerFlowSolver } from './powerflow/index.ts';

/** Commands whose handler an add-on registers (TwinAddOnHost.handleCommand). */
export type ExtensionCommand = Extract<TwinCommand, { kind: 'attack' }>;

export interface ExtensionCommandHandler {
  /**
   * Applies the command (throws a TypeError naming what is wrong); the twin logs the event, with
   * `data` as its structured details.
   */
  apply(command: ExtensionCommand): {
    kind: string;
    message: string;
    target?: string;
    data?: Record<string, unknown>;
  };
}

export interface TwinAddOnHost {
  readonly seed: number;
  readonly dt_s: number;
  readonly grid: Grid;
  readonly pf: PowerFlowSolver;
  readonly loads: LoadBank;
  readonly state: TwinState;
  readonly hardwareById: ReadonlyMap<string, HardwareDevice>;
  /** The measurement and command channels of a hardware device (where attacks insert themselves). */
  channelsOf(deviceId: string): { measurement: Channel[]; command: Channel[] } | undefined;
  measurementFor(deviceId: string): BusMeasurement;
  /** Registers the handler of a command the twin itself does not know (one per kind). */
  handleCommand(kind: ExtensionCommand['kind'], handler: ExtensionCommandHandler): void;
  commandHandler(kind: ExtensionCommand['kind']): ExtensionCommandHandler | undefined;
  /** An attached controller (its communication network is an attack target). */
  attachedController(id: string): Controller | undefined;
}
