/**
 * The contract between the twin and everything around it (bench, recorder, server, replay).
 * The twin imports nothing from bench/ or firmware-protocol/; they import these types.
 * Units are in field names: _mw, _mvar, _pu, _deg, _hz, _s. Powers are generator convention
 * (positive = injected into the grid) unless a device mapping says otherwise.
 */

/** What a device (hardware board, SunSpec unit or simulated controller) reports each exchange. */
export interface DeviceInput {
  /** Device id as named in the grid/run config, e.g. "bess1". */
  deviceId: string;
  /** Active power injected at the device's bus, MW (already scaled by the device mapping). */
  p_mw: number;
  /** Reactive power injected, Mvar. */
  q_mvar: number;
  /** False while the link is lost; the twin then applies the device's fallback. */
  online: boolean;
  /** Battery state of charge, 0..1, when the device has one. */
  soc?: number;
  mode?: 'grid-following' | 'grid-forming';
}

/** What the twin sends a device about its bus: the MEASUREMENT message's contents. */
export interface BusMeasurement {
  vm_pu: number;
  va_deg: number;
  f_hz: number;
  rocof_hz_s: number;
  /** Twin time, seconds since the start of the run. */
  t_s: number;
  step: number;
}

export interface IslandState {
  /** Stable id of the island (lowest bus index in it, or a microgrid name). */
  id: string;
  energised: boolean;
  gridConnected: boolean;
  f_hz: number;
  rocof_hz_s: number;
  /** Bus ids in this island. */
  buses: string[];
  /**
   * The bus that holds the island's voltage and angle reference (the slack bus while connected to
   * the main grid, else the grid-forming unit chosen as reference); absent when it has none.
   */
  referenceBus?: string;
}

/** Energy-management mode of a microgrid (docs/twin.md, "EMS"). */
export type EmsModeName = 'standby-power' | 'low-cost' | 'stand-alone' | 'peak-shaving';

/** A microgrid as seen at its point of common coupling (PCC). */
export interface MicrogridState {
  /**
   * Active power through the PCC breaker into the microgrid, MW: import from the main grid
   * positive (load convention at the PCC, unlike device powers). Measured at the microgrid's end of
   * the PCC switch (or branch) from the solved power flow; 0 while the PCC is open and for a
   * microgrid without a PCC breaker.
   */
  pcc_p_mw: number;
  /** Reactive power through the PCC into the microgrid, Mvar, import positive (as pcc_p_mw). */
  pcc_q_mvar: number;
  ems: EmsModeName;
  /** True while the microgrid's buses are not connected to the main grid. */
  islanded: boolean;
}

export interface TwinEvent {
  t_s: number;
  kind: string;
  message: string;
  /** Bus, branch, device or island the event concerns. */
  target?: string;
  /** Structured details, JSON-serialisable (a scenario verdict's assertion outcomes). */
  data?: Record<string, unknown>;
}

/** One step's outputs. Arrays are reused between steps: copy what you keep. */
export interface TwinState {
  t_s: number;
  step: number;
  islands: IslandState[];
  /** Bus ids, in grid order; vm_pu/va_deg index like this. */
  busIds: readonly string[];
  vm_pu: Float64Array;
  va_deg: Float64Array;
  /** Per-device (DER, battery, hardware) state, keyed by device id. */
  devices: Record<string, { p_mw: number; q_mvar: number; soc?: number; online: boolean; tripped?: boolean }>;
  /** Flexible interconnection devices: injections into side A and B and losses (P_a + P_b + loss = 0). */
  fids?: Record<string, { p_a_mw: number; p_b_mw: number; loss_mw: number }>;
  /**
   * Per microgrid (grid file `microgrids[].id`): PCC power, EMS mode, islanded. The object and its
   * entries are updated in place every step.
   */
  microgrids?: Record<string, MicrogridState>;
  /**
   * Breaker positions, true = closed: every switch and every branch by id (a branch is its own
   * breaker; in service = closed), as the `breaker` command names them. Updated in place when the
   * topology changes (commands, protection, planned islanding, reconnection).
   */
  breakers?: Record<string, boolean>;
  /** Events raised during this step (empty most steps). */
  events: TwinEvent[];
}

/**
 * An operator or scenario command applied between steps. Commands for hardware devices are turned
 * into SETPOINT frames by the bench; the twin applies those for its own simulated equipment.
 */
export type TwinCommand =
  | { kind: 'breaker'; id: string; closed: boolean }
  | { kind: 'setpoint'; deviceId: string; p_mw?: number; q_mvar?: number }
  /** `ramp_s`: a schedule ramp, as the controller action's (twin/control/contract.ts). */
  | { kind: 'fid-setpoint'; fidId: string; p_mw: number; ramp_s?: number }
  | { kind: 'island'; microgrid?: string; islanded: boolean }
  | { kind: 'emergency-stop' }
  /**
   * Starts or stops an attack on the twin's channels (docs/security.md). `attack` holds the kind,
   * the target channel, an optional duration_s and the kind's parameters (bias, rate_per_s, …).
   */
  | {
      kind: 'attack';
      action: 'start' | 'stop';
      id?: string;
      attack?: { kind: string; target: string; duration_s?: number } & Record<string, unknown>;
    };

/** The twin as the bench drives it. */
export interface TwinLike {
  /** Fixed step, seconds. */
  readonly dt_s: number;
  /** Advances one step with the latest device inputs and returns the new state. */
  step(inputs: readonly DeviceInput[]): TwinState;
  /** The measurement a device at `deviceId`'s bus should receive now. */
  measurementFor(deviceId: string): BusMeasurement;
  /**
   * Applies a command before the next step. Returns the event it caused (for the audit log), or
   * throws a TypeError naming what was wrong (unknown breaker, device, FID; value out of range).
   */
  command(command: TwinCommand): TwinEvent;
}
