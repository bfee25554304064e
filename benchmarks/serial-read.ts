/**
 * Where a serial link's latency goes in Node: the same pseudo-terminals and the same C emulated
 * board, read through three paths.
 *   npm run bench:serial-read [-- --samples 400 --load 0]
 *
 *   - serialport   `SerialTransport` (serialport 13): reads with fs.read on libuv's thread pool,
 *                  EAGAIN → poller → fs.read again; writes with fs.write on the pool;
 *   - polled       serialport's binding opens and configures the port, its poller (uv_poll) says
 *                  when the descriptor is readable, read()/write() run on the loop thread;
 *   - tty          `TtySerialTransport`: serialport's binding opens and configures the port, a
 *                  `tty.ReadStream` on a second descriptor (uv_tty: epoll + read()/write() on the
 *                  loop thread) carries the bytes.
 *
 * For each path: one-way latency (a write on the far end of the pty pair, timed in this process,
 * to the data callback on the near end) and the round-trip time of a MEASUREMENT → DEVICE_STATE
 * exchange with the C battery board. --load N adds N busy processes (a loaded machine) for the
 * whole run. Ends with one JSON line (µs).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';
import { loadavg } from 'node:os';
import { SerialPort } from 'serialport';
import { openPtyPair, SerialTransport } from '../bench/devices/transport.ts';
import { TtySerialTransport } from '../bench/devices/tty-serial-transport.ts';
import { startEmulatedBoard } from '../firmware-protocol/host/boards.ts';
import { boardRoundTrips } from './board-rtt.ts';

function arg(name: string, fallback: number, min: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < min) {
    console.error(`bench:serial-read: --${name} must be an integer ≥ ${min}`);
    process.exit(2);
  }
  return v;
}
const SAMPLES = arg('samples', 400, 10);
const LOAD = arg('load', 0, 0);
const PATHS = ['serialport', 'polled', 'tty'] as const;
type ReadPath = (typeof PATHS)[number];

/** The least a read path has to offer: write bytes, hear of arriving ones, close. */
interface Client {
  write(bytes: Uint8Array): Promise<void>;
  onData(listener: (chunk: Uint8Array) => void): void;
  close(): Promise<void>;
}

/** serialport's binding opens and configures; its poller says when to read()/write() on this thread. */
async function openPolled(path: string): Promise<Client> {
  const port = (await SerialPort.binding.open({ path, baudRate: 921600 })) as unknown as {
    fd: number;
    poller: { once(event: 'readable', callback: (error: Error | null) => void): unknown };
    close(): Promise<void>;
  };
  const buffer = Buffer.allocUnsafe(4096);
  let listener: ((chunk: Uint8Array) => void) | undefined;
  let open = true;
  const readReady = () => {
    for (;;) {
      let n = 0;
      try {
        n = readSync(port.fd, buffer, 0, buffer.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw err;
      }
      if (n === 0) return;
      listener?.(Buffer.from(buffer.subarray(0, n)));
      if (n < buffer.length) break;
    }
    port.poller.once('readable', (error) => {
      if (!error && open) readReady();
    });
  };
  readReady();
  return {
    write: async (bytes) => {
      writeSync(port.fd, bytes);
    },
    onData: (l) => {
      listener = l;
    },
    close: async () => {
      open = false;
      await port.close();
    },
  };
}

async function openClient(path: string, how: ReadPath): Promise<Client> {
  if (how === 'polled') return openPolled(path);
  const t = how === 'serialport' ? new SerialTransport({ path }) : new TtySerialTransport({ path });
  await t.open();
  return {
    write: (bytes) => t.write(bytes),
    onData: (listener) => t.on('data', listener),
    close: () => t.close(),
  };
}

const percentile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const summary = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: Math.round(percentile(s, 0.5)),
    p99: Math.round(percentile(s, 0.99)),
    max: Math.round(s[s.length - 1]),
  };
};
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A write on the far end (plain non-blocking write) to the data callback on the near end, µs. */
async function oneWay(how: ReadPath): Promise<number[]> {
  const pair = await openPtyPair();
  const far = openSync(pair.b, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
  const near = await openClient(pair.a, how);
  const out: number[] = [];
  try {
    let sent = 0;
    let arrived: (() => void) | undefined;
    near.onData(() => {
      out.push((performance.now() - sent) * 1000);
      arrived?.();
    });
    const frame = new Uint8Array(40).fill(0x55);
    for (let i = 0; i < SAMPLES; i++) {
      const got = new Promise<void>((resolve) => {
        arrived = resolve;
        setTimeout(resolve, 200);
      });
      sent = performance.now();
      writeSync(far, frame);
      await got;
      arrived = undefined;
      await pause(2);
    }
  } finally {
    await near.close();
    closeSync(far);
    await pair.stop();
  }
  return out;
}

/** MEASUREMENT → DEVICE_STATE with the C battery board, µs. */
async function roundTrip(how: ReadPath): Promise<number[]> {
  const pair = await openPtyPair();
  const board = await startEmulatedBoard('battery', { device: pair.b });
  const client = await openClient(pair.a, how);
  let out: number[] = [];
  try {
    out = await boardRoundTrips(client, SAMPLES);
  } finally {
    await client.close();
    await board.stop();
    await pair.stop();
  }
  return out;
}

const hogs: ChildProcess[] = [];
for (let i = 0; i < LOAD; i++) {
  hogs.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
}
try {
  if (LOAD > 0) await pause(500);
  const load0 = loadavg()[0];
  const figures: Record<string, unknown> = {};
  // Interleaved rounds, so a change in the machine's load touches every path alike.
  const oneWayAll: Record<ReadPath, number[]> = { serialport: [], polled: [], tty: [] };
  const rttAll: Record<ReadPath, number[]> = { serialport: [], polled: [], tty: [] };
  for (let round = 0; round < 2; round++) {
    for (const how of PATHS) {
      oneWayAll[how].push(...(await oneWay(how)));
      rttAll[how].push(...(await roundTrip(how)));
    }
  }
  for (const how of PATHS) {
    const ow = summary(oneWayAll[how]);
    const rtt = summary(rttAll[how]);
    console.log(
      `${how.padEnd(10)} one-way write→data p50 ${ow.p50} µs, p99 ${ow.p99} µs, max ${ow.max} µs; ` +
        `board RTT p50 ${rtt.p50} µs, p99 ${rtt.p99} µs, max ${rtt.max} µs (${rtt.n} exchanges)`,
    );
    figures[how] = { one_way_us: ow, board_rtt_us: rtt };
  }
  const load = loadavg();
  console.log(
    `load average ${load.map((x) => x.toFixed(2)).join(' ')} (at start ${load0.toFixed(2)}), ${LOAD} busy processes added`,
  );
  console.log(
    JSON.stringify({
      bench: 'serial-read',
      samples_per_round: SAMPLES,
      rounds: 2,
      added_load: LOAD,
      ...figures,
      loadavg: load,
    }),
  );
} finally {
  for (const h of hogs) h.kill('SIGKILL');
}
