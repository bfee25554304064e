import type { BusMeasurement, DeviceInput } from '../../twin/api.ts';
import type { CapturedFrame, DeviceDriver, LinkEvent, LinkStats } from './link-config.ts';
import type { LimitResult } from './safety.ts';

/** A set-point in twin units; the link converts it through the device mapping. */
export interface TwinSetpoint {
  p_mw?: number;
  q_mvar?: number;
}

/**
 * One device as the real-time loop sees it, whatever the driver and the wire: it is offered the
 * measurement at its bus on exchange steps and always has a latest input for the twin (marked
 * offline while the link is down, so the twin applies the fallback).
 */
export interface DeviceLink {
  readonly id: string;
  readonly driver: DeviceDriver;
  open(): Promise<void>;
  /** Sends the measurement for this step. Never blocks; never throws for link trouble. */
  exchange(measurement: BusMeasurement): void;
  /** The newest input from the device (online false while the link is down). */
  input(): DeviceInput;
  /**
   * Asks the device for a new set-point. Limits are enforced before anything is sent; the result
   * says what will be aimed for. Throws a TypeError for a refused request (non-finite, e-stopped).
   */
  setpoint(setpoint: TwinSetpoint): LimitResult;
  /** Puts the device in its safe state now (zero power, off) and latches until `release()`. */
  emergencyStop(): void;
  /** Frames captured since the last call (moved out, so the caller owns them). */
  drainFrames(into: CapturedFrame[]): void;
  /** Link events since the last call. */
  drainEvents(into: LinkEvent[]): void;
  stats(): LinkStats;
  close(): Promise<void>;
}
