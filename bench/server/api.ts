/**
 * The socket.io API between the bench and its clients (live page, Node-RED, tools).
 * Documented in docs/socket-api.md; these maps are the single source of truth.
 */

/** A decimated view of one twin step, sent to clients at their chosen rate. */
export interface LiveState {
  t_s: number;
  step: number;
  islands: { id: string; f_hz: number; rocof_hz_s: number; energised: boolean; gridConnected: boolean }[];
  devices: Record<string, { p_mw: number; q_mvar: number; soc?: number; online: boolean }>;
  loop: { lateness_us: number; work_us: number; overruns: number };
}

export interface RunStatus {
  runId: string;
  state: 'starting' | 'running' | 'stopped' | 'failed';
  t_s: number;
  dt_s: number;
  runDir: string;
}

export interface ServerToClientEvents {
  state: (state: LiveState) => void;
  status: (status: RunStatus) => void;
}

export interface ClientToServerEvents {
  /** Chooses the state stream's rate, Hz (clamped to 1..50). */
  subscribe: (options: { rate_hz: number }) => void;
}
