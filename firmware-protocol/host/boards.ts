/**
 * Emulated boards: the C example firmware (`../c/firmware/`) built for the host and run as a
 * process that serves the protocol on a pseudo-terminal, the way a USB board appears as
 * /dev/ttyACM0. Needs only a C compiler (`cc`, or `$CC`); no make, no socat.
 *
 *   const { battery, inverter } = await buildEmulatedBoards();   // compiled once, cached
 *   const board = await startEmulatedBoard('battery', { deviceId: 7 });
 *   // board.path is e.g. /dev/pts/5: open it with serialport; the board sends HELLO until it hears
 *   // from the bench, answers each MEASUREMENT with a DEVICE_STATE and applies SETPOINTs.
 *   await board.stop();                                           // SIGTERM, then SIGKILL after 2 s
 *
 * Pass `device: '/dev/pts/N'` to attach the board to an existing tty (one end of a socat pair)
 * instead of creating its own. The binaries are cached in node_modules/.cache/gridloop-boards/<hash>/,
 * rebuilt only when a source file, the compiler or the flags change.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export type BoardKind = 'battery' | 'inverter';

const HERE = dirname(fileURLToPath(import.meta.url));
/** `firmware-protocol/c`. */
export const C_SOURCE_DIR = resolve(HERE, '../c');
const REPO_ROOT = resolve(HERE, '../..');
const DEFAULT_CACHE_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'gridloop-boards');

const LIB_SOURCES = ['src/glp_codec.c', 'src/glp_sha256.c', 'src/glp_link.c'];
const FIRMWARE_SOURCES = [
  'firmware/board.c',
  'firmware/battery.c',
  'firmware/inverter.c',
  'firmware/hal_posix.c',
];
const MAIN_SOURCE: Record<BoardKind, string> = {
  battery: 'firmware/main_battery.c',
  inverter: 'firmware/main_inverter.c',
};
const CFLAGS = [
  '-std=c99',
  '-D_POSIX_C_SOURCE=200809L',
  '-D_XOPEN_SOURCE=600',
  '-Wall',
  '-Wextra',
  '-Werror',
  `-I${join(C_SOURCE_DIR, 'include')}`,
  `-I${join(C_SOURCE_DIR, 'firmware')}`,
];
const OPTIMIZE = ['-O2'];
const SANITIZE = [
  '-O1',
  '-g',
  '-fsanitize=address,undefined',
  '-fno-sanitize-recover=all',
  '-fno-omit-frame-pointer',
];

export interface BuildOptions {
  /** C compiler. @default process.env.CC ?? 'cc' */
  compiler?: string;
  /** @default '<repo>/node_modules/.cache/gridloop-boards' */
  cacheDir?: string;
  /** Build with AddressSanitizer and UBSan (tests): any finding aborts the board. @default false */
  sanitize?: boolean;
  /** Told when a board is compiled (not when cached): a build takes tens of seconds on a slow machine. */
  onStatus?: (message: string) => void;
}

export interface BoardBinaries {
  battery: string;
  inverter: string;
}

function compilerFlags(options: BuildOptions): string[] {
  return [...CFLAGS, ...(options.sanitize ? SANITIZE : OPTIMIZE)];
}

async function sourceFingerprint(compiler: string, flags: string[]): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`${compiler}\0${flags.join(' ')}\0`);
  for (const sub of ['include', 'src', 'firmware']) {
    const dir = join(C_SOURCE_DIR, sub);
    const names = (await readdir(dir)).filter((n) => n.endsWith('.c') || n.endsWith('.h')).sort();
    for (const name of names) {
      hash.update(`${sub}/${name}\0`);
      hash.update(await readFile(join(dir, name)));
    }
  }
  return hash.digest('hex').slice(0, 16);
}

let pendingBuild: Promise<BoardBinaries> | null = null;
let pendingKey = '';

/**
 * Compiles both boards if the cache lacks them. Safe to call concurrently, also from several
 * processes: each compiles to a private temporary name and renames it into place.
 */
export function buildEmulatedBoards(options: BuildOptions = {}): Promise<BoardBinaries> {
  const key = `${options.compiler ?? ''}|${options.cacheDir ?? ''}|${options.sanitize === true}`;
  if (pendingBuild && pendingKey === key) return pendingBuild;
  pendingKey = key;
  // Shared only while in flight: later calls look at the disk again (and find the cached binaries).
  const build = doBuild(options).finally(() => {
    if (pendingBuild === build) pendingBuild = null;
  });
  pendingBuild = build;
  return build;
}

async function doBuild(options: BuildOptions): Promise<BoardBinaries> {
  const compiler = options.compiler ?? process.env.CC ?? 'cc';
  const flags = compilerFlags(options);
  const fingerprint = await sourceFingerprint(compiler, flags);
  const outDir = join(options.cacheDir ?? DEFAULT_CACHE_DIR, fingerprint);
  await mkdir(outDir, { recursive: true });
  const result: BoardBinaries = {
    battery: join(outDir, 'battery-board'),
    inverter: join(outDir, 'inverter-board'),
  };
  for (const kind of ['battery', 'inverter'] as const) {
    const target = result[kind];
    if (existsSync(target)) continue;
    const temp = `${target}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const sources = [...LIB_SOURCES, ...FIRMWARE_SOURCES, MAIN_SOURCE[kind]].map((s) =>
      join(C_SOURCE_DIR, s),
    );
    const started = performance.now();
    options.onStatus?.(`building the emulated ${kind} board (${compiler}), once per source change…`);
    try {
      await execFileAsync(compiler, [...flags, '-o', temp, ...sources, '-lm'], { maxBuffer: 4 << 20 });
      options.onStatus?.(`  done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } catch (err) {
      await rm(temp, { force: true });
      const e = err as { code?: string; stderr?: string; message: string };
      if (e.code === 'ENOENT') {
        throw new Error(
          `cannot build the emulated ${kind} board: C compiler '${compiler}' not found (install gcc or set CC)`,
        );
      }
      throw new Error(`cannot build the emulated ${kind} board with ${compiler}:\n${e.stderr ?? e.message}`);
    }
    await rename(temp, target);
  }
  return result;
}

/** The link options every build of the example boards takes (host build and Cortex-M images). */
export interface BoardLinkOptions {
  /** Device id in frame headers. @default 1 */
  deviceId?: number;
  /** 32-byte signing key: the board signs its frames. */
  key?: Uint8Array;
  /** Signing link id. @default 0 */
  linkId?: number;
  /** Reject unsigned frames from the bench (needs `key`). */
  requireSigned?: boolean;
  /** HELLO period until the bench talks, ms. @default 1000 */
  helloIntervalMs?: number;
  /** Heartbeat period, ms. @default 1000 */
  heartbeatIntervalMs?: number;
  /** Watchdog, ms. @default 2000 */
  watchdogMs?: number;
}

export interface StartBoardOptions extends BuildOptions, BoardLinkOptions {
  /** Attach to this existing tty instead of creating a pseudo-terminal. */
  device?: string;
  /** @default 50 */
  nominalFrequencyHz?: number;
  ratedPowerW?: number;
  /** Battery only. @default 10000 */
  capacityWh?: number;
  /** Battery only, 0…1. @default 0.5 */
  initialSoc?: number;
  /** Inverter only: available primary power, W. @default rated */
  availablePowerW?: number;
  /** Time to wait for the board's PTY/DEVICE line. @default 10000 */
  startTimeoutMs?: number;
  /** Board diagnostics to `onStderr`. */
  verbose?: boolean;
  /** Receives the board's stderr text. */
  onStderr?: (text: string) => void;
}

export interface EmulatedBoard {
  kind: BoardKind;
  /** The tty the bench opens (the pseudo-terminal's slave, or `options.device`). */
  path: string;
  pid: number;
  /** The board process (its stdin is a pipe: closing it stops the board). */
  process: ChildProcess;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
  /** Stops the board: SIGTERM, SIGKILL after 2 s. Idempotent. */
  stop(): Promise<void>;
}

/** Appends `--flag value` when the value is given. */
function pushNumber(args: string[], flag: string, v: number | undefined): void {
  if (v !== undefined) args.push(flag, String(v));
}

/** Command-line arguments for the link options, as every board build reads them. */
export function boardLinkArgs(o: BoardLinkOptions): string[] {
  const args: string[] = [];
  const num = (flag: string, v: number | undefined) => pushNumber(args, flag, v);
  num('--device-id', o.deviceId);
  if (o.key) {
    if (o.key.length !== 32) throw new TypeError(`signing key must be 32 bytes, got ${o.key.length}`);
    args.push('--key', Buffer.from(o.key).toString('hex'));
  }
  num('--link-id', o.linkId);
  if (o.requireSigned) args.push('--require-signed');
  num('--hello-ms', o.helloIntervalMs);
  num('--heartbeat-ms', o.heartbeatIntervalMs);
  num('--watchdog-ms', o.watchdogMs);
  return args;
}

function boardArgs(o: StartBoardOptions): string[] {
  const args = [...(o.device ? ['--device', o.device] : ['--pty']), ...boardLinkArgs(o)];
  const num = (flag: string, v: number | undefined) => pushNumber(args, flag, v);
  num('--nominal-hz', o.nominalFrequencyHz);
  num('--rated-w', o.ratedPowerW);
  num('--capacity-wh', o.capacityWh);
  num('--soc', o.initialSoc);
  num('--available-w', o.availablePowerW);
  if (o.verbose) args.push('--verbose');
  return args;
}

/** Builds (if needed) and starts an emulated board; resolves once it has announced its tty. */
export async function startEmulatedBoard(
  kind: BoardKind,
  options: StartBoardOptions = {},
): Promise<EmulatedBoard> {
  if (kind !== 'battery' && kind !== 'inverter') throw new TypeError(`unknown board kind '${String(kind)}'`);
  const binaries = await buildEmulatedBoards(options);
  const args = boardArgs(options);
  const child = spawn(binaries[kind], args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | string>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit(code ?? signal ?? 'unknown'));
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    if (stderr.length < 8192) stderr += text;
    options.onStderr?.(text);
  });
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  const path = await new Promise<string>((resolvePath, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      cleanup();
      child.kill('SIGKILL');
      reject(
        new Error(
          `emulated ${kind} board did not announce its tty within ${timeoutMs} ms. stderr: ${stderr}`,
        ),
      );
    }, timeoutMs);
    const onData = (text: string) => {
      stdout += text;
      // Only a complete line: a chunk may end in the middle of the path.
      const match = /^(?:PTY|DEVICE) (\S+)\r?\n/m.exec(stdout);
      if (match) {
        cleanup();
        resolvePath(match[1]);
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(
        new Error(
          `emulated ${kind} board exited (${code ?? signal}) before announcing its tty: ${stderr.trim()}`,
        ),
      );
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new Error(`cannot start emulated ${kind} board: ${err.message}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
  child.stdout?.resume();
  return { kind, path, pid: child.pid ?? -1, process: child, exited, stop: () => stopChild(child, exited) };
}

async function stopChild(child: ChildProcess, exited: Promise<number | string>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(timer);
  child.stdin?.destroy();
}
