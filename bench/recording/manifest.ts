import { execFile } from 'node:child_process';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { RunVerdict } from './verdict.ts';

const execFileAsync = promisify(execFile);
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const MANIFEST_FILE = 'manifest.json';
export const POINTS_FILE = 'points.lp.gz';
export const FRAMES_FILE = 'frames.pcap.gz';
export const EVENTS_FILE = 'events.jsonl';
export const MANIFEST_FORMAT = 'gridloop-run/1';

/** `incomplete` until the recorder is closed: a run left so was killed or crashed. */
export type RunStatus = 'incomplete' | 'complete' | 'failed' | 'aborted';

export interface ManifestDevice {
  id: string;
  transport?: string;
  path?: string;
  firmware?: string;
  [key: string]: unknown;
}

export interface AssertionResult {
  name: string;
  passed: boolean;
  /** The measured value the assertion judged, when it has one. */
  value?: number;
  /** What was expected, in words (e.g. "f_hz within 49.5..50.5"). */
  expected?: string;
  message?: string;
  /** Time the assertion was judged, seconds of twin time. */
  t_s?: number;
  /** The span of scenario time the assertion watched, s (JUnit's `time` is its length). */
  span_s?: [number, number];
}

/** What the caller tells the recorder about a run; anything else it adds is kept verbatim. */
export interface ManifestInput {
  /**
   * How the loop was configured (bench/runtime/messages.ts LoopConfig: twin, devices, schedule);
   * `gridloop replay` rebuilds the twin from it.
   */
  loop?: {
    twin: { grid: string; seed: number; dt_s: number; scenario?: string };
    devices: { id: string; [key: string]: unknown }[];
    schedule?: { t_s: number; action: unknown }[];
    /**
     * What stepped the twin: the real-time loop (default; a scenario's script is played and
     * logged as `act` records), `gridloop simulate` or `gridloop attack` (the script applied when
     * the twin is built; `attack` also runs the scenario's attack engine and detectors).
     * @default 'loop'
     */
    runner?: 'loop' | 'simulate' | 'attack';
  };
  grid?: string;
  scenario?: string;
  seed?: number;
  dt_s?: number;
  mode?: string;
  devices?: ManifestDevice[];
  [key: string]: unknown;
}

export interface RunManifest extends ManifestInput {
  format: typeof MANIFEST_FORMAT;
  id: string;
  scenario: string;
  devices: ManifestDevice[];
  versions: { gridloop: string; node: string; influxdbClient: string | null };
  git: { commit: string | null; dirty: boolean | null };
  /** ISO 8601 wall-clock start and (once closed) end. */
  start: string;
  /** Start as ns since the Unix epoch, a decimal string (JSON has no 64-bit integers). */
  start_ns: string;
  end?: string;
  end_ns?: string;
  status: RunStatus;
  reason?: string;
  files: { points: string; frames: string; events: string; replay?: string };
  counts?: {
    points: number;
    frames: number;
    events: number;
    /** Float fields left out because NaN/Infinity have no line-protocol form. */
    nonFiniteFields: number;
    /** Points rejected as unwritable (no field, bad name); each is also logged as an event. */
    rejectedPoints: number;
    /** Step-stamped replay records (replay.jsonl.gz). */
    replayRecords?: number;
  };
  recorder?: {
    maxQueuedBytes: number;
    maxFlushMs: number;
    pointsFileBytes: number;
    framesFileBytes: number;
  };
  sinks?: Record<string, unknown>[];
  assertions?: AssertionResult[];
  /** The run's one verdict (bench/recording/verdict.ts), written when the run is closed. */
  verdict?: RunVerdict;
  /** Simulated runs: the twin's network-solver work (twin/twin.ts TwinSolverStats). */
  twinSolver?: Record<string, unknown>;
}

async function packageVersion(path: string): Promise<string | null> {
  try {
    return (JSON.parse(await readFile(path, 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

export async function collectVersions(): Promise<RunManifest['versions']> {
  return {
    gridloop: (await packageVersion(join(repoRoot, 'package.json'))) ?? 'unknown',
    node: process.version,
    influxdbClient: await packageVersion(
      join(repoRoot, 'node_modules', '@influxdata', 'influxdb-client', 'package.json'),
    ),
  };
}

/** The commit the code was run from, and whether the tree had changes; nulls outside a git clone. */
export async function collectGit(): Promise<RunManifest['git']> {
  try {
    const { stdout } = await execFileAsync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, timeout: 3000 });
    let dirty: boolean | null = null;
    try {
      const status = await execFileAsync('git', ['status', '--porcelain', '--untracked-files=no'], {
        cwd: repoRoot,
        timeout: 3000,
      });
      dirty = status.stdout.trim() !== '';
    } catch {
      dirty = null;
    }
    return { commit: stdout.trim(), dirty };
  } catch {
    return { commit: null, dirty: null };
  }
}

/** Writes the manifest atomically (temp file + rename): a reader never sees half a manifest. */
export async function writeManifest(dir: string, manifest: RunManifest): Promise<void> {
  const path = join(dir, MANIFEST_FILE);
  const temp = `${path}.tmp`;
  await writeFile(temp, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(temp, path);
}

export class RunFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunFolderError';
  }
}

export async function readManifest(dir: string): Promise<RunManifest> {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new RunFolderError(
      `${path}: cannot read the run manifest (${(err as NodeJS.ErrnoException).code})`,
    );
  }
  let manifest: RunManifest;
  try {
    manifest = JSON.parse(text) as RunManifest;
  } catch (err) {
    throw new RunFolderError(`${path}: not valid JSON: ${(err as Error).message}`);
  }
  if (typeof manifest !== 'object' || manifest === null || manifest.format !== MANIFEST_FORMAT) {
    throw new RunFolderError(`${path}: $.format is not '${MANIFEST_FORMAT}'`);
  }
  for (const key of ['id', 'start_ns', 'status'] as const) {
    if (typeof manifest[key] !== 'string') throw new RunFolderError(`${path}: $.${key} must be a string`);
  }
  return manifest;
}
