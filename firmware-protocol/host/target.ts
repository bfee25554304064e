/**
 * The reference firmware on Cortex-M: builds (`make target`, arm-none-eabi-gcc + newlib), the size and
 * stack report with its budgets (docs/firmware.md), and QEMU runs of the images:
 *
 *   const images = await buildTargetImages();                  // cached like the host boards
 *   const report = await targetReport(images);                 // text/data/bss per module, stack
 *   targetBudgetViolations(report);                            // [] when within budget
 *   const out = await runOnTarget('cortex-m0plus', images.dir, ['decode'], input);  // glp-tool on QEMU
 *   const board = await startQemuBoard('battery', { device: pair.b });  // the board image in the loop
 *
 * Machines (docs/firmware.md says why): cortex-m4 runs on `mps2-an386` (Arm's MPS2 with the AN386
 * Cortex-M4 image, CMSDK UART); cortex-m3 on `lm3s6965evb` (TI Stellaris, a PL011 UART with a receive
 * FIFO: the board in the loop); cortex-m0plus on `microbit` (nRF51, Cortex-M0: the same ARMv6-M
 * instruction set — Thumb-1, no hardware divide — as the M0+ the code is built for). The vectors run
 * on all three; the M0+ board images are built and sized.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { type BoardKind, type BoardLinkOptions, boardLinkArgs, C_SOURCE_DIR } from './boards.ts';
import { makeTarget } from './make.ts';

const execFileAsync = promisify(execFile);

export type TargetCpu = 'cortex-m4' | 'cortex-m3' | 'cortex-m0plus';
export const TARGET_CPUS: readonly TargetCpu[] = ['cortex-m4', 'cortex-m3', 'cortex-m0plus'];
/** The QEMU machine each CPU's images run on. */
export const QEMU_MACHINE: Record<TargetCpu, string> = {
  'cortex-m4': 'mps2-an386',
  'cortex-m3': 'lm3s6965evb',
  'cortex-m0plus': 'microbit',
};
/** The UART driver each CPU's board images are linked with (the Makefile's UART_<cpu>). */
const UART_MODULE: Record<TargetCpu, string> = {
  'cortex-m4': 'uart_cmsdk',
  'cortex-m3': 'uart_pl011',
  'cortex-m0plus': 'uart_cmsdk',
};
/** The board in the loop: its machine's UART takes bytes into a FIFO without waiting for the CPU. */
export const LOOP_BOARD_CPU: TargetCpu = 'cortex-m3';

export const LIBRARY_MODULES = ['glp_codec', 'glp_link', 'glp_sha256'] as const;
export const BOARD_MODULES = ['board', 'battery', 'inverter', 'startup', 'semihosting', 'hal_qemu'] as const;

/** Budgets, stated in docs/firmware.md (a test holds the two in step). Bytes. */
export const TARGET_BUDGETS = {
  /** Protocol library (codec + link + SHA-256/HMAC signing): text + data, on each CPU. */
  libraryFlash: 6144,
  /** One link context: the board's runtime state with its glp_link_t (RAM). */
  linkContextRam: 1024,
  /** Worst-case stack of a board image: main's deepest path + the deepest interrupt + its frame. */
  stack: 2560,
  /** A whole board image (flash), newlib-nano included. */
  boardFlash: 32768,
} as const;

const REPO_ROOT = resolve(C_SOURCE_DIR, '../..');
const CACHE_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'gridloop-target');

export interface TargetImages {
  /** The make BUILD directory: `<dir>/<cpu>/{battery,inverter,glp-tool}.elf` and module objects. */
  dir: string;
  elf(cpu: TargetCpu, image: BoardKind | 'glp-tool'): string;
}

async function sourceFingerprint(): Promise<string> {
  const hash = createHash('sha256');
  const { stdout } = await execFileAsync('arm-none-eabi-gcc', ['--version']).catch(() => ({
    stdout: 'missing',
  }));
  hash.update(stdout);
  for (const sub of ['include', 'src', 'firmware', 'target', 'tools']) {
    const dir = join(C_SOURCE_DIR, sub);
    for (const name of (await readdir(dir)).sort()) {
      hash.update(`${sub}/${name}\0`);
      hash.update(await readFile(join(dir, name)));
    }
  }
  hash.update(await readFile(join(C_SOURCE_DIR, 'Makefile')));
  return hash.digest('hex').slice(0, 16);
}

function imagesIn(dir: string): TargetImages {
  return { dir, elf: (cpu, image) => join(dir, cpu, `${image}.elf`) };
}

/**
 * Builds every Cortex-M image (both CPUs) unless the cache holds this source tree's build. -Werror:
 * a warning fails the build. Safe to call from parallel processes (private build dir, then rename).
 */
export async function buildTargetImages(cacheDir = CACHE_DIR): Promise<TargetImages> {
  const dir = join(cacheDir, await sourceFingerprint());
  if (existsSync(join(dir, 'complete'))) return imagesIn(dir);
  const temp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await mkdir(temp, { recursive: true });
  try {
    await makeTarget('target', temp);
    await execFileAsync('touch', [join(temp, 'complete')]);
    await rename(temp, dir).catch(async (err: NodeJS.ErrnoException) => {
      // Another process finished the same build first: use its copy.
      if (!existsSync(join(dir, 'complete'))) throw err;
      await rm(temp, { recursive: true, force: true });
    });
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
  return imagesIn(dir);
}

// ------------------------------------------------------------------------------------ sizes

export interface SectionSizes {
  text: number;
  data: number;
  bss: number;
}

export interface StackReport {
  /** Worst-case bytes: main's deepest call chain + the deepest interrupt handler + exception frame. */
  worst: number;
  /** The deepest chain from main, outermost first. */
  mainPath: string[];
  mainBytes: number;
  interruptPath: string[];
  interruptBytes: number;
  exceptionFrameBytes: number;
}

export interface CpuReport {
  modules: Record<string, SectionSizes>;
  /** Library = codec + link + SHA-256: flash is text + data, RAM data + bss. */
  library: { flash: number; ram: number };
  boards: Record<BoardKind, SectionSizes>;
  /** Bytes of the board's runtime state, link context included (symbol `board`). */
  linkContextRam: number;
  stack: Record<BoardKind, StackReport>;
}

export type TargetReport = Record<TargetCpu, CpuReport>;

async function berkeleySizes(files: string[]): Promise<SectionSizes[]> {
  const { stdout } = await execFileAsync('arm-none-eabi-size', ['-B', ...files]);
  return stdout
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [text, data, bss] = line.trim().split(/\s+/).map(Number);
      return { text, data, bss };
    });
}

async function symbolSize(elf: string, name: string): Promise<number> {
  const { stdout } = await execFileAsync('arm-none-eabi-nm', ['-S', elf]);
  for (const line of stdout.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length === 4 && parts[3] === name) return Number.parseInt(parts[1], 16);
  }
  throw new Error(`${elf}: no symbol '${name}'`);
}

/** Size and stack report of a build (see TARGET_BUDGETS for what each figure means). */
export async function targetReport(images: TargetImages): Promise<TargetReport> {
  const out = {} as TargetReport;
  for (const cpu of TARGET_CPUS) {
    const dir = join(images.dir, cpu);
    const names = [...LIBRARY_MODULES, ...BOARD_MODULES, UART_MODULE[cpu], 'main_battery', 'main_inverter'];
    const sizes = await berkeleySizes(names.map((n) => join(dir, `${n}.o`)));
    const modules = Object.fromEntries(names.map((n, i) => [n, sizes[i]]));
    const lib = LIBRARY_MODULES.map((n) => modules[n]);
    const [battery, inverter] = await berkeleySizes([
      images.elf(cpu, 'battery'),
      images.elf(cpu, 'inverter'),
    ]);
    const graphs = await loadCallGraphs(dir, [...names]);
    out[cpu] = {
      modules,
      library: {
        flash: lib.reduce((s, m) => s + m.text + m.data, 0),
        ram: lib.reduce((s, m) => s + m.data + m.bss, 0),
      },
      boards: { battery, inverter },
      linkContextRam: await symbolSize(images.elf(cpu, 'battery'), 'board'),
      stack: {
        battery: stackReport(graphs.battery, cpu),
        inverter: stackReport(graphs.inverter, cpu),
      },
    };
  }
  return out;
}

/** Budget breaches of a report, as sentences; empty when everything fits. */
export function targetBudgetViolations(report: TargetReport): string[] {
  const out: string[] = [];
  const check = (what: string, got: number, budget: number) => {
    if (!(got <= budget)) out.push(`${what}: ${got} bytes, budget ${budget}`);
  };
  for (const cpu of TARGET_CPUS) {
    const r = report[cpu];
    check(`${cpu} protocol library flash`, r.library.flash, TARGET_BUDGETS.libraryFlash);
    check(`${cpu} link context RAM`, r.linkContextRam, TARGET_BUDGETS.linkContextRam);
    for (const kind of ['battery', 'inverter'] as const) {
      check(`${cpu} ${kind} worst-case stack`, r.stack[kind].worst, TARGET_BUDGETS.stack);
      check(
        `${cpu} ${kind} image flash`,
        r.boards[kind].text + r.boards[kind].data,
        TARGET_BUDGETS.boardFlash,
      );
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------ stack

/**
 * gcc's -fcallgraph-info=su call graph (one .ci per module): per function its own frame and callees.
 * Calls into the C library (memset, 64-bit division, strtoul…) are not in it: each counts
 * LIBRARY_CALL_BYTES, more than any of those leaf routines uses on these CPUs. An indirect call may
 * reach any address-taken function (a static one never called directly) of the modules that hand
 * function pointers to the caller's module: the board runtime calls the device model through
 * board_app_t (main_*.c), the link calls the board's hooks and frame handler (board.c).
 */
interface CallGraph {
  frame: Map<string, number | 'unbounded'>;
  module: Map<string, string>;
  callees: Map<string, Set<string>>;
  /** Address-taken functions per module: static functions never called directly. */
  addressTaken: Map<string, string[]>;
}
const LIBRARY_CALL_BYTES = 128;
const INDIRECT = '__indirect_call';
const INDIRECT_TARGET_MODULES: Record<string, string[]> = {
  board: ['main_battery', 'main_inverter'],
  glp_link: ['board'],
  glp_codec: ['board'],
};

/** The .ci texts of the modules linked into each board image, as [module, text]. */
async function loadCallGraphs(
  dir: string,
  modules: string[],
): Promise<Record<BoardKind, [string, string][]>> {
  const perModule = new Map<string, string>();
  for (const m of modules) perModule.set(m, await readFile(join(dir, `${m}.ci`), 'utf8'));
  const linked = (other: string[]) =>
    modules.filter((m) => !other.includes(m)).map((m): [string, string] => [m, perModule.get(m) ?? '']);
  return { battery: linked(['main_inverter', 'inverter']), inverter: linked(['main_battery', 'battery']) };
}

/**
 * Worst-case stack of an image from its modules' -fcallgraph-info=su texts ([module name, .ci text]).
 * Throws on recursion or a dynamic frame, which no fixed stack bounds.
 */
export function stackReport(callGraphs: [string, string][], cpu: TargetCpu): StackReport {
  return worstStack(parseCallGraphs(callGraphs), cpu);
}

function parseCallGraphs(texts: [string, string][]): CallGraph {
  const frame = new Map<string, number | 'unbounded'>();
  const module = new Map<string, string>();
  const byTitle = new Map<string, string>(); // node title → function name
  const edges: [string, string][] = [];
  const statics: [string, string][] = [];
  for (const [mod, text] of texts) {
    for (const m of text.matchAll(/node: \{ title: "([^"]+)" label: "([^"]+)"/g)) {
      const [title, label] = [m[1], m[2]];
      const name = label.split('\\n')[0];
      byTitle.set(title, name);
      const bytes = /\\n(\d+) bytes \(([^)]+)\)/.exec(label);
      if (bytes) {
        frame.set(name, bytes[2] === 'static' ? Number(bytes[1]) : 'unbounded');
        module.set(name, mod);
        if (title.includes(':')) statics.push([mod, name]);
      }
    }
    for (const m of text.matchAll(/edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"/g)) {
      edges.push([m[1], m[2]]);
    }
  }
  const callees = new Map<string, Set<string>>();
  const called = new Set<string>();
  for (const [from, to] of edges) {
    const source = byTitle.get(from) ?? from;
    const target = to === INDIRECT ? INDIRECT : (byTitle.get(to) ?? to);
    if (!callees.has(source)) callees.set(source, new Set());
    callees.get(source)?.add(target);
    called.add(target);
  }
  const addressTaken = new Map<string, string[]>();
  for (const [mod, name] of statics) {
    if (called.has(name)) continue;
    addressTaken.set(mod, [...(addressTaken.get(mod) ?? []), name]);
  }
  return { frame, module, callees, addressTaken };
}

function worstStack(g: CallGraph, cpu: TargetCpu): StackReport {
  const indirectTargets = (fn: string): string[] => {
    const from = INDIRECT_TARGET_MODULES[g.module.get(fn) ?? ''];
    if (!from) throw new Error(`${fn}: indirect call from a module with no known targets`);
    return from.flatMap((m) => g.addressTaken.get(m) ?? []);
  };
  // `lastIndirect`: index in `path` of the latest caller whose indirect call was resolved. A cycle that passes
  // through such a resolution is an artefact of resolving by module, not by pointer (the link's
  // hooks never call back into the frame handler): that branch is dropped. A cycle of direct calls
  // is real recursion, which a fixed stack cannot bound.
  type Deepest = { bytes: number; path: string[] };
  const deepest = (fn: string, path: string[], lastIndirect = -1): Deepest | null => {
    const seen = path.indexOf(fn);
    if (seen >= 0) {
      if (lastIndirect >= seen) return null;
      throw new Error(`recursion in the firmware: ${[...path, fn].join(' → ')}`);
    }
    const own = g.frame.get(fn);
    if (own === 'unbounded') throw new Error(`${fn} has a dynamic stack frame (alloca or VLA)`);
    if (own === undefined) return { bytes: LIBRARY_CALL_BYTES, path: [...path, `${fn} (C library)`] };
    let best: Deepest = { bytes: 0, path: [...path, fn] };
    for (const callee of g.callees.get(fn) ?? []) {
      const indirect = callee === INDIRECT;
      for (const c of indirect ? indirectTargets(fn) : [callee]) {
        const sub = deepest(c, [...path, fn], indirect ? path.length : lastIndirect);
        if (sub && sub.bytes > best.bytes) best = sub;
      }
    }
    return { bytes: own + best.bytes, path: best.path };
  };
  const root = (fn: string): Deepest => {
    if (!g.frame.has(fn)) throw new Error(`no ${fn} in the call graph`);
    const r = deepest(fn, []);
    if (!r) throw new Error(`no stack figure for ${fn}`);
    return r;
  };
  const fromReset = root('Reset_Handler');
  // Interrupts at one priority never nest: one handler on top of main's deepest point.
  const handlers = ['SysTick_Handler', 'UART0_RX_IRQHandler', 'target_fault'].map(root);
  const irq = handlers.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  // Exception entry pushes 8 words, 26 (+ alignment) with the M4's lazy floating-point context.
  const exceptionFrameBytes = cpu === 'cortex-m4' ? 108 : 36;
  return {
    worst: fromReset.bytes + irq.bytes + exceptionFrameBytes,
    mainPath: fromReset.path,
    mainBytes: fromReset.bytes,
    interruptPath: irq.path,
    interruptBytes: irq.bytes,
    exceptionFrameBytes,
  };
}

// ------------------------------------------------------------------------------------ QEMU

function qemuArgs(cpu: TargetCpu, elf: string, args: string[]): string[] {
  const semihosting = ['enable=on', 'target=native', ...[elf, ...args].map((a) => `arg=${a}`)].join(',');
  return [
    '-M',
    QEMU_MACHINE[cpu],
    '-nographic',
    '-monitor',
    'none',
    '-semihosting-config',
    semihosting,
    '-kernel',
    elf,
  ];
}

export interface RunOnTargetOptions {
  /** The run must end within this time; QEMU is killed and the promise rejects otherwise. @default 60000 */
  timeoutMs?: number;
}

/**
 * Runs a semihosted image (glp-tool.elf) under QEMU: argv and stdin/stdout over semihosting. Rejects
 * when the image faults (it prints `GLP FAULT …` and stops QEMU), exits non-zero, or hangs.
 */
export function runOnTarget(
  cpu: TargetCpu,
  elf: string,
  args: string[],
  input = '',
  options: RunOnTargetOptions = {},
): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolveRun, reject) => {
    const child = spawn('qemu-system-arm', [...qemuArgs(cpu, elf, args), '-serial', 'none'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => {
      stdout += t;
    });
    child.stderr.setEncoding('utf8').on('data', (t: string) => {
      if (stderr.length < 8192) stderr += t;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${QEMU_MACHINE[cpu]}: ${elf} did not finish within ${timeoutMs} ms (QEMU hung)`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start qemu-system-arm (apt-get install qemu-system-arm): ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const fault = /GLP FAULT.*/.exec(stdout + stderr);
      if (fault) reject(new Error(`${QEMU_MACHINE[cpu]}: ${fault[0]}`));
      else if (code !== 0)
        reject(new Error(`${QEMU_MACHINE[cpu]}: exited ${code ?? signal}: ${stderr.trim()}`));
      else resolveRun(stdout);
    });
    child.stdin.on('error', () => {}); // an image that stops reading: its exit is what counts
    child.stdin.end(input);
  });
}

export interface StartQemuBoardOptions extends BoardLinkOptions {
  /** Attach the board's UART to this existing tty (one end of a pty pair); default: QEMU's own pty. */
  device?: string;
  /** Tests: the board executes an undefined instruction this long after boot. */
  crashAfterMs?: number;
  /** Which build runs. @default LOOP_BOARD_CPU (cortex-m3 on lm3s6965evb) */
  cpu?: Exclude<TargetCpu, 'cortex-m0plus'>;
  /** Time for QEMU to start and the firmware to report ready. @default 20000 */
  startTimeoutMs?: number;
  /** A prebuilt set of images (default: build or take from the cache). */
  images?: TargetImages;
}

export interface QemuBoard {
  kind: BoardKind;
  /** The tty the bench opens. */
  path: string;
  pid: number;
  process: ChildProcess;
  /** Resolves when QEMU ends: its exit code or signal, and the fault line if the firmware faulted. */
  exited: Promise<{ code: number | string; fault?: string }>;
  /** Everything QEMU and the firmware's semihosting console said (bounded). */
  console(): string;
  /** Stops QEMU: SIGTERM, SIGKILL after 2 s. Idempotent. */
  stop(): Promise<void>;
}

function boardArgs(o: StartQemuBoardOptions): string[] {
  const args = boardLinkArgs(o);
  if (o.crashAfterMs !== undefined) args.push('--crash-after-ms', String(o.crashAfterMs));
  return args;
}

/**
 * Starts a board image under QEMU (Cortex-M3 on lm3s6965evb unless `cpu` says otherwise) with its
 * UART0 on a tty; resolves once the firmware reports ready (its first semihosting line) and the tty
 * is known.
 */
export async function startQemuBoard(
  kind: BoardKind,
  options: StartQemuBoardOptions = {},
): Promise<QemuBoard> {
  const images = options.images ?? (await buildTargetImages());
  const cpu = options.cpu ?? LOOP_BOARD_CPU;
  const elf = images.elf(cpu, kind);
  const serial = options.device
    ? ['-chardev', `serial,id=uart0,path=${options.device}`, '-serial', 'chardev:uart0']
    : ['-serial', 'pty'];
  const child = spawn('qemu-system-arm', [...qemuArgs(cpu, elf, boardArgs(options)), ...serial], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const onText = (t: string) => {
    if (output.length < 65536) output += t;
  };
  child.stdout?.setEncoding('utf8').on('data', onText);
  child.stderr?.setEncoding('utf8').on('data', onText);
  const exited = new Promise<{ code: number | string; fault?: string }>((done) => {
    child.once('exit', (code, signal) => {
      const fault = /GLP FAULT.*/.exec(output)?.[0];
      done({ code: code ?? signal ?? 'unknown', ...(fault ? { fault } : {}) });
    });
  });
  const timeoutMs = options.startTimeoutMs ?? 20_000;
  const path = await new Promise<string>((resolvePath, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      child.kill('SIGKILL');
      reject(new Error(`QEMU ${kind} board not ready within ${timeoutMs} ms: ${output.trim()}`));
    }, timeoutMs);
    const check = () => {
      if (!/GLP BOARD READY/.test(output)) return;
      const pty = /char device redirected to (\S+) \(label serial0\)/.exec(output)?.[1];
      const found = options.device ?? pty;
      if (found) {
        cleanup();
        resolvePath(found);
      }
    };
    const onExit = () => {
      cleanup();
      reject(new Error(`QEMU ${kind} board exited before it was ready: ${output.trim()}`));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new Error(`cannot start qemu-system-arm (apt-get install qemu-system-arm): ${err.message}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.stderr?.off('data', check);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', onExit);
    child.once('error', onError);
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT'); // a board a test paused must still be able to die
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  };
  return { kind, path, pid: child.pid ?? -1, process: child, exited, console: () => output, stop };
}
