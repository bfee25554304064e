/**
 * The socket.io API between the bench and its clients (live page, Node-RED, tools): every event,
 * command and role, written once. The server (`bench/server/`) and the live page (`bench/web/`)
 * import it; the Node-RED package (`flows/`) installs on its own, so test/socket-contract.test.ts
 * checks every command and event it uses against this module. Documented in docs/socket-api.md;
 * `api.test-d.ts` keeps the maps honest.
 */

import type { MarketView } from '../../market/telemetry.ts';
import type { TwinEvent } from '../../twin/api.ts';
import type { AttackParameters } from '../../twin/attacks/attacks.ts';
import type { ProsumerPreferences, VppMemberTelemetry, VppTelemetry } from '../../vpp/telemetry.ts';

/**
 * Who a client is, decided by the token it presents in the handshake (`auth.token`). A `prosumer`
 * token belongs to one prosumer id (a household or site, named by the VPP portfolio's members and
 * any market data): that client receives only its own data (`prosumer` events) and sets its
 * preferences, nothing else.
 */
export type Role = 'viewer' | 'operator' | 'admin' | 'prosumer';
export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin', 'prosumer'];
/** The roles that see the whole bench (a token for each is generated when none is configured). */
export type StaffRole = Exclude<Role, 'prosumer'>;
export const STAFF_ROLES: readonly StaffRole[] = ['viewer', 'operator', 'admin'];

/** Ranks roles so "at least operator" is one comparison (a prosumer ranks below a viewer). */
export const ROLE_RANK: Readonly<Record<Role, number>> = { prosumer: -1, viewer: 0, operator: 1, admin: 2 };

/** A decimated view of one twin step, sent to clients at their chosen rate. */
export interface LiveState {
  t_s: number;
  step: number;
  islands: {
    id: string;
    f_hz: number;
    rocof_hz_s: number;
    energised: boolean;
    gridConnected: boolean;
    /** Bus ids in the island, when the twin reports them (the diagram colours by island). */
    buses?: string[];
  }[];
  /** Voltage magnitude per bus, pu, in `GridTopology.buses` order, when known. */
  vm_pu?: number[];
  devices: Record<string, { p_mw: number; q_mvar: number; soc?: number; online: boolean; tripped?: boolean }>;
  /**
   * Breaker positions as the twin reports them, id -> closed: the grid's switches and the lines
   * `GridTopology.lines` marks as `breaker`. Absent when the twin does not report positions.
   */
  switches?: Record<string, boolean>;
  /** FID id -> transfer from side A to side B, MW, when known. */
  fids?: Record<string, { p_mw: number }>;
  /** Per microgrid (`GridTopology.microgrids[].id`), when the twin reports them. */
  microgrids?: Record<string, LiveMicrogrid>;
  loop: { lateness_us: number; work_us: number; overruns: number };
  /**
   * The live attack detectors' latest evaluation, by detector name (`chi2`): its statistic against
   * its threshold and whether the alarm holds. Absent when the run has no live detector.
   */
  detectors?: Record<string, LiveDetector>;
  /**
   * Wall-clock time the server sent this state, ms since the Unix epoch (set by the server; a
   * client on the same clock can compute delivery latency).
   */
  sent_ms?: number;
}

/** One detector's latest evaluation (twin/detection/alarms.ts `DetectorSample`). */
export interface LiveDetector {
  /** Twin time of the sample evaluated. */
  t_s: number;
  /** The test statistic (χ²: the WLS objective J). */
  statistic: number;
  /** The threshold it is tested against. */
  threshold: number;
  /** The alarm after the persistence rule. */
  alarm: boolean;
}

/** A microgrid at its point of common coupling, as the live state streams it. */
export interface LiveMicrogrid {
  /**
   * Active power through the PCC breaker into the microgrid, MW, import from the main grid positive
   * (unlike device powers). 0 while the PCC is open and for a microgrid without a PCC breaker.
   */
  pcc_p_mw: number;
  /** Reactive power through the PCC into the microgrid, Mvar, import positive. */
  pcc_q_mvar: number;
  /** Energy-management mode, named as the recording names it (docs/influx-schema.md, `ems`). */
  ems: 'standby' | 'peak-shaving' | 'stand-alone' | 'low-cost';
  /** True while the microgrid is not connected to the main grid. */
  islanded: boolean;
}

/**
 * The VPP as its operator sees it, after each of its decisions: a subset of the VPP's telemetry
 * (vpp/telemetry.ts, where each field is documented; the same figures are recorded as `vpp` and
 * `vpp_member`, docs/influx-schema.md), picked here so the wire format is the telemetry's own
 * fields and cannot drift from them. Powers MW, generator convention.
 */
export interface VppLiveView
  extends Pick<
    VppTelemetry,
    'vpp' | 't_s' | 'target_mw' | 'delivered_mw' | 'price_per_mwh' | 'ok' | 'reason'
  > {
  /** Aggregate flexibility the decision used (the telemetry's, less the ramp). */
  flexibility: Omit<VppTelemetry['flexibility'], 'ramp_mw_s'>;
  members: Pick<
    VppMemberTelemetry,
    'id' | 'prosumer' | 'hardware' | 'setpoint_mw' | 'measured_mw' | 'tracking_error_mw' | 'opted_out'
  >[];
}

/**
 * The P2P market as operators and viewers see it, after each interval's news (cleared, delivered,
 * settled): the market's own record (market/telemetry.ts, docs/market.md "On the live bench").
 */
export type MarketLiveView = MarketView;
export type {
  MarketAccountTelemetry,
  MarketIntervalTelemetry,
  MarketOrderTelemetry,
} from '../../market/telemetry.ts';

/**
 * A prosumer's own part of the market (inside its `prosumer` view): the orders, trades, deliveries
 * and ledger accounts of its own participants only, and the clearing prices of their microgrids.
 */
export interface ProsumerMarketView {
  market: string;
  interval_s: number;
  /** Its participants (DER ids, `load:<microgrid>`), with their microgrids. */
  participants: Record<string, { microgrid: string }>;
  /** The latest intervals, oldest first, cut down to its own participants. */
  intervals: {
    intervalStart_s: number;
    state: MarketView['intervals'][number]['state'];
    note?: string;
    /** Clearing price of each of its microgrids. */
    prices: Record<string, number>;
    /** Its orders, with what the clearing gave each (its trades are those with `filled_wh` > 0). */
    orders: MarketView['intervals'][number]['orders'];
    /** Its declared position against its meter, once the interval is over. */
    deliveries: MarketView['intervals'][number]['deliveries'];
  }[];
  /** Its accounts on the ledger (balance, deposit, debt, penalties, reputation), micro-units. */
  accounts: MarketView['ledger']['accounts'];
  ledger: { state: MarketView['ledger']['state']; settled: number };
}

/** What a prosumer may ask of the VPP for its own units (`preferences`): the VPP's own type. */
export type { ProsumerPreferences } from '../../vpp/telemetry.ts';

/**
 * Everything a prosumer client receives: its own units only, filtered by the server (a prosumer
 * socket gets no `state`, `events`, `topology` or `vpp`).
 */
export interface ProsumerView {
  prosumer: string;
  t_s: number;
  /** Its units' measured output, MW (generator convention), and their sum: its meter. */
  meter: { p_mw: number; units: Record<string, { p_mw: number; soc?: number }> };
  /** The price it is paid or charged now (the VPP's internal price), currency/MWh; null when none. */
  price_per_mwh: number | null;
  /** Set-points the VPP gave its units, MW (null: none; opted out or not dispatched). */
  schedule: Record<string, number | null>;
  /** The preferences the VPP has in force for it (absent until the VPP has them). */
  preferences?: ProsumerPreferences;
  /** Its own part of the P2P market (runs hosting a `market` controller that names it). */
  market?: ProsumerMarketView;
}

/** The answer to a `preferences` message. */
export type PreferencesResult =
  | { ok: true; auditId: string; message: string }
  | { ok: false; auditId: string; code: CommandErrorCode; reason: string };

export interface RunStatus {
  runId: string;
  state: 'starting' | 'running' | 'paused' | 'stopped' | 'failed';
  t_s: number;
  dt_s: number;
  runDir: string;
  /** Scenario being played, if any. */
  scenario?: string;
}

/** How serious a live event is, least first: clients filter "at least warning" by this order. */
export const SEVERITIES = ['info', 'warning', 'alarm'] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * Structured `data` of the events a page marks (docs/socket-api.md, "Event data"): `attack-start`
 * / `attack-stop` (and the `command:attack` result) carry AttackEventData, `alarm` /
 * `alarm-cleared` carry AlarmEventData.
 */
export type { AttackEventData } from '../../twin/attacks/live.ts';
export type { AlarmEventData } from '../../twin/detection/alarms.ts';

/** A twin event, an operator action or a bench notice, as the event timeline shows it. */
export interface LiveEvent extends TwinEvent {
  severity: Severity;
  source: 'twin' | 'operator' | 'bench';
  /** Wall-clock time, ISO 8601. */
  time: string;
}

/** Enough of the grid to draw a single-line diagram; sent on connect. */
export interface GridTopology {
  name: string;
  frequency_hz: number;
  /** 'coordinates' when the grid file gave every bus a position, 'auto' when laid out by the bench. */
  layout: 'coordinates' | 'auto';
  buses: {
    id: string;
    name?: string;
    x: number;
    y: number;
    baseKV: number;
    microgrid?: string;
    slack?: boolean;
  }[];
  /**
   * Branches. The twin can open any of them by id; `breaker` marks those drawn with a breaker
   * symbol: normally-open ties and lines that join two microgrids.
   */
  lines: {
    id: string;
    from: string;
    to: string;
    kind: 'line' | 'transformer';
    inService: boolean;
    breaker?: boolean;
  }[];
  switches: {
    id: string;
    kind: 'breaker' | 'switch' | 'disconnector';
    from: string;
    to: string;
    closed: boolean;
  }[];
  /**
   * DERs and other controllable devices; `hardware` marks a real board closing the loop; `glyph` is
   * the technology's diagram symbol from the DER registry (twin/der/technologies.ts).
   */
  ders: {
    id: string;
    bus: string;
    technology: string;
    glyph?: string;
    rating_mva: number;
    hardware?: boolean;
  }[];
  loads: { id: string; bus: string; p_mw: number }[];
  fids: { id: string; busA: string; busB: string; rating_mva: number }[];
  microgrids: { id: string; name?: string; pccSwitch?: string }[];
}

/** What a `scenario` command asks of the scenario player. */
export const SCENARIO_ACTIONS = ['start', 'stop', 'pause', 'resume'] as const;
export type ScenarioAction = (typeof SCENARIO_ACTIONS)[number];

/** Commands a client may send; each is validated against a JSON Schema (`commands.ts`). */
export type ApiCommand =
  | { type: 'breaker'; id: string; closed: boolean }
  | { type: 'island'; microgrid?: string; islanded: boolean }
  | { type: 'scenario'; action: ScenarioAction; name?: string }
  | { type: 'setpoint'; deviceId: string; p_mw?: number; q_mvar?: number }
  | { type: 'fid-setpoint'; fidId: string; p_mw: number; ramp_s?: number }
  | { type: 'emergency-stop' }
  /** Prosumer tokens are not rotated this way (each belongs to one prosumer: edit the token file). */
  | { type: 'rotate-token'; role: StaffRole }
  | ({
      type: 'attack';
      action: 'start' | 'stop';
      /** Attack id (start: optional label; stop: required). */
      id?: string;
      /** Attack kind (docs/security.md), e.g. `bias`, `replay`, `dos-drop`, `time-sync`. */
      kind?: string;
      /** Channel, e.g. `bess-hw.f_hz`. */
      target?: string;
      duration_s?: number;
    } & AttackParameters);

/** Parameters of an attack command, by kind (docs/security.md): the twin's own list. */
export type { AttackParameters } from '../../twin/attacks/attacks.ts';

export type CommandType = ApiCommand['type'];

/**
 * The least role allowed to send each command. Set-points for hardware devices need admin (see
 * `requiredRole`): they act on real equipment.
 */
export const COMMAND_ROLES: Readonly<Record<CommandType, Role>> = {
  breaker: 'operator',
  island: 'operator',
  scenario: 'operator',
  setpoint: 'operator',
  'fid-setpoint': 'operator',
  'emergency-stop': 'operator',
  'rotate-token': 'admin',
  /** Attacks act on real equipment's signals. */
  attack: 'admin',
};

/** Why a command was refused. */
export type CommandErrorCode =
  | 'unauthenticated'
  | 'forbidden'
  | 'invalid'
  | 'rate-limited'
  | 'unavailable'
  /** The bench is still starting (status `starting`): nothing was done; send it again once `running`. */
  | 'not-ready'
  | 'failed';

export type CommandResult =
  | {
      ok: true;
      /** Audit entry id. */
      auditId: string;
      message: string;
      event?: TwinEvent;
      /** Only for rotate-token: the new token (never written to the audit log). */
      token?: string;
    }
  | { ok: false; auditId: string; code: CommandErrorCode; reason: string };

/**
 * A campaign's progress (`gridloop campaign --serve`, docs/campaigns.md § Progress): counts, rate
 * and time left, as the terminal shows them.
 */
export interface CampaignProgress {
  campaign: string;
  total: number;
  /** Finished, this session or before (skipped as done). */
  done: number;
  /** Of `done`: verdict failed or could not run. */
  failed: number;
  running: number;
  /** Done before this session started (re-run). */
  skipped: number;
  /** Runs per second over this session. */
  rate: number;
  /** Seconds left at this rate; null before the first run ends. */
  eta_s: number | null;
  elapsed_s: number;
}

/** Sent once after a client is accepted. */
export interface Welcome {
  clientId: string;
  role: Role;
  /** Display name of the token's holder, if the token config gave one. */
  name?: string;
  /** The prosumer id of a `prosumer` client (its token's). */
  prosumer?: string;
  /** Commands this client may send. */
  commands: CommandType[];
  topology: GridTopology | null;
  status: RunStatus | null;
  /** Recent events, oldest first, so a late joiner's timeline is not empty. */
  recentEvents: LiveEvent[];
  /** Names `scenario start` accepts: the files in the bench's scenario folder (without `.yaml`). */
  scenarios?: string[];
  limits: { commandsPerSecond: number; commandBurst: number; maxMessageBytes: number; maxRate_hz: number };
  /** The latest campaign progress, when this server publishes a campaign's. */
  campaign?: CampaignProgress;
}

export interface ServerToClientEvents {
  welcome: (welcome: Welcome) => void;
  /** Sent when the grid changes after connect (e.g. a new run). */
  topology: (topology: GridTopology) => void;
  state: (state: LiveState) => void;
  status: (status: RunStatus) => void;
  /** Events and alarms, batched (at most 10 batches per second). */
  events: (events: LiveEvent[]) => void;
  /** The VPP after each decision (runs hosting a VPP controller); not sent to prosumers. */
  vpp: (view: VppLiveView) => void;
  /** The P2P market after each interval's news (runs hosting a market controller); not sent to prosumers. */
  market: (view: MarketLiveView) => void;
  /** A prosumer's own data (sent only to that prosumer's clients). */
  prosumer: (view: ProsumerView) => void;
  /** Campaign progress (at most 4 per second, and the final one). */
  campaign: (progress: CampaignProgress) => void;
}

export interface ClientToServerEvents {
  /** Chooses the state stream's rate, Hz (rounded, clamped to 1..50). */
  subscribe: (options: { rate_hz: number }) => void;
  /** Sends a command; `ack` always receives a result, refused or not. */
  command: (command: ApiCommand, ack: (result: CommandResult) => void) => void;
  /** A prosumer's preferences for its own units (prosumer role only); `ack` always answers. */
  preferences: (preferences: ProsumerPreferences, ack: (result: PreferencesResult) => void) => void;
}

/**
 * The names of an event map, checked both ways: leaving an event out or naming one the map does
 * not have fails type-checking, so these lists cannot drift from the maps above.
 */
function eventNames<Events>(names: Record<keyof Events, true>): (keyof Events & string)[] {
  return Object.keys(names) as (keyof Events & string)[];
}

/** Every event the server sends. */
export const SERVER_EVENTS = eventNames<ServerToClientEvents>({
  welcome: true,
  topology: true,
  state: true,
  status: true,
  events: true,
  vpp: true,
  market: true,
  prosumer: true,
  campaign: true,
});

/** Every event a client may send. */
export const CLIENT_EVENTS = eventNames<ClientToServerEvents>({
  subscribe: true,
  command: true,
  preferences: true,
});

/** Per-socket data the server keeps (socket.io `SocketData`). */
export interface ClientData {
  role: Role;
  name: string;
  address: string;
  tokenFingerprint: string;
  /** A prosumer client's prosumer id. */
  prosumer?: string;
}

/** The identity a command handler and the audit log see. */
export interface Actor {
  clientId: string;
  role: Role | null;
  /** Token holder's name, or `<role>-<fingerprint>`. */
  name: string;
  address: string;
}

/** One line of the run's audit log: who, what, when, result. */
export interface AuditEntry {
  id: string;
  /** ISO 8601 wall-clock time. */
  time: string;
  action: 'connect' | 'command' | 'disconnect' | 'preferences';
  actor: Actor;
  /** The command as received (validated or not, truncated when huge). */
  command?: unknown;
  result: 'ok' | 'rejected' | 'failed';
  code?: CommandErrorCode | 'flood' | 'slow-client' | 'too-large';
  reason?: string;
  event?: TwinEvent;
  /** Similar rejected entries not written individually since the previous one (flood protection). */
  suppressed?: number;
}
