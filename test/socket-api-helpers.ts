/** Shared pieces of the socket.io API suites: tokens, a small grid topology, typed clients. */

import { type Socket as ClientSocket, io as connect } from 'socket.io-client';
import type {
  ApiCommand,
  ClientToServerEvents,
  CommandResult,
  GridTopology,
  LiveState,
  ServerToClientEvents,
  Welcome,
} from '../bench/server/api.ts';
import { waitFor } from './support/machine-speed.ts';

export const TOKENS = {
  viewer: 'viewer-token-0123456789',
  operator: 'operator-token-0123456789',
  admin: 'admin-token-0123456789',
} as const;

export const accessTokens = [
  { role: 'viewer' as const, token: TOKENS.viewer, name: 'student' },
  { role: 'operator' as const, token: TOKENS.operator, name: 'engineer' },
  { role: 'admin' as const, token: TOKENS.admin, name: 'lab-admin' },
];

/** Two microgrids joined to a main grid by breakers, one FID, one hardware battery. */
export const smallTopology: GridTopology = {
  name: 'test',
  frequency_hz: 50,
  layout: 'coordinates',
  buses: [
    { id: '1', x: 0, y: 0, baseKV: 12.66, slack: true },
    { id: '2', x: 1, y: 0, baseKV: 12.66 },
    { id: '3', x: 2, y: 0, baseKV: 12.66, microgrid: 'mg1' },
    { id: '4', x: 2, y: 1, baseKV: 12.66, microgrid: 'mg2' },
  ],
  lines: [{ id: 'l1-2', from: '1', to: '2', kind: 'line', inService: true }],
  switches: [
    { id: 'pcc1', kind: 'breaker', from: '2', to: '3', closed: true },
    { id: 'pcc2', kind: 'breaker', from: '2', to: '4', closed: true },
  ],
  ders: [
    { id: 'pv3', bus: '3', technology: 'pv', rating_mva: 0.5 },
    { id: 'bess-hw', bus: '4', technology: 'battery', rating_mva: 0.25, hardware: true },
  ],
  loads: [{ id: 'load3', bus: '3', p_mw: 0.2 }],
  fids: [{ id: 'fid1', busA: '3', busB: '4', rating_mva: 0.3 }],
  microgrids: [
    { id: 'mg1', pccSwitch: 'pcc1' },
    { id: 'mg2', pccSwitch: 'pcc2' },
  ],
};

export function sampleState(t_s: number): LiveState {
  return {
    t_s,
    step: Math.round(t_s * 1000),
    islands: [{ id: '1', f_hz: 50, rocof_hz_s: 0, energised: true, gridConnected: true }],
    devices: { pv3: { p_mw: 0.3, q_mvar: 0, online: true } },
    loop: { lateness_us: 3, work_us: 20, overruns: 0 },
  };
}

export type TestClient = ClientSocket<ServerToClientEvents, ClientToServerEvents>;

const clients: TestClient[] = [];

export function client(url: string, token?: string): TestClient {
  const socket: TestClient = connect(url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    auth: token === undefined ? {} : { token },
  });
  clients.push(socket);
  return socket;
}

export function closeClients(): void {
  for (const c of clients.splice(0)) c.close();
}

export function welcomed(socket: TestClient, timeout_ms = 5000): Promise<Welcome> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no welcome')), timeout_ms);
    socket.once('welcome', (w) => {
      clearTimeout(timer);
      resolve(w);
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export function refused(socket: TestClient, timeout_ms = 5000): Promise<Error> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connection was not refused')), timeout_ms);
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      resolve(err);
    });
    socket.once('welcome', () => {
      clearTimeout(timer);
      reject(new Error('connection was accepted'));
    });
  });
}

export function send(socket: TestClient, command: unknown): Promise<CommandResult> {
  return socket.timeout(8000).emitWithAck('command', command as ApiCommand);
}

export function disconnected(socket: TestClient, timeout_ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!socket.connected) {
      resolve('already');
      return;
    }
    const timer = setTimeout(() => reject(new Error('still connected')), timeout_ms);
    socket.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `check()` holds (budget scaled to the machine). */
export async function until(check: () => boolean, timeout_ms = 5000, what = 'condition'): Promise<void> {
  await waitFor(what, check, timeout_ms);
}
