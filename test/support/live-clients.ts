/**
 * The live bench's socket clients as the prosumer tests use them (test/market-live.test.ts,
 * test/vpp-live.test.ts): the staff and prosumer tokens of one token file, and clients that keep
 * every raw message the server sent them, to show what a prosumer was never told.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../bench/server/api.ts';

export type LiveClient = Socket<ServerToClientEvents, ClientToServerEvents>;

/** An operator and two prosumers, house-24 and house-25. */
export const PROSUMER_TOKENS = {
  operator: 'operator-token-0123456789',
  house24: 'house-24-token-0123456789',
  house25: 'house-25-token-0123456789',
};

/** Writes PROSUMER_TOKENS as a token file in `dir` and points the bench at it (GRIDLOOP_TOKEN_FILE). */
export function useProsumerTokens(dir: string): void {
  const file = join(dir, 'tokens.yaml');
  writeFileSync(
    file,
    `tokens:
  - { role: operator, token: ${PROSUMER_TOKENS.operator} }
  - { role: prosumer, token: ${PROSUMER_TOKENS.house24}, prosumer: house-24 }
  - { role: prosumer, token: ${PROSUMER_TOKENS.house25}, prosumer: house-25 }
`,
  );
  process.env.GRIDLOOP_TOKEN_FILE = file;
}

/**
 * A client of the bench at `url` that keeps every raw message (engine.io text, before socket.io
 * decodes it); it is added to `clients`, which the test closes when it is done.
 */
export function rawClient(
  url: string,
  token: string,
  clients: LiveClient[],
): { socket: LiveClient; raw: string[] } {
  const raw: string[] = [];
  const socket: LiveClient = connect(url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    auth: { token },
  });
  socket.io.on('open', () => socket.io.engine.on('message', (data) => raw.push(String(data))));
  clients.push(socket);
  return { socket, raw };
}
