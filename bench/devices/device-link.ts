import type { BusMeasurement, DeviceInput } from '../../twin/api.ts';
import type { CapturedFrame, LinkStats } from '../runtime/messages.ts';

/**
 * One device as the real-time loop sees it, whatever the wire: it is offered the measurement at
 * its bus on exchange steps and always has a latest input for the twin (its fallback while the
 * link is down).
 */
export interface DeviceLink {
  readonly id: string;
  open(): Promise<void>;
  /** Sends the measurement for this step. Never blocks; never throws for link trouble. */
  exchange(measurement: BusMeasurement): void;
  /** The newest input from the device, or its fallback while offline. */
  input(): DeviceInput;
  /** Frames captured since the last call (moved out, so the caller owns them). */
  drainFrames(into: CapturedFrame[]): void;
  stats(): LinkStats;
  close(): Promise<void>;
}
