/**
 * What a device link is configured with (the run config's device mapping) and what it reports
 * (frames, statistics, events). Owned by the drivers; the loop and the recorder read them.
 */

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
