import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { constants, gunzipSync } from 'node:zlib';
import { type CapturedFrameRecord, parsePcap } from './frame-capture.ts';
import { type Point, parseLine } from './line-protocol.ts';
import {
  EVENTS_FILE,
  FRAMES_FILE,
  POINTS_FILE,
  RunFolderError,
  type RunManifest,
  readManifest,
} from './manifest.ts';

export interface RecordedEvent {
  time_ns: bigint;
  t_s: number;
  kind: string;
  message: string;
  target?: string;
  source?: string;
  data?: Record<string, unknown>;
}

async function readOptional(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new RunFolderError(`${path}: ${(err as Error).message}`);
  }
}

/**
 * Decompresses a file of concatenated gzip members. A last member cut short (the writer was
 * killed mid-append) yields what it holds instead of an error; `Z_SYNC_FLUSH` makes zlib return
 * the data decoded so far rather than failing on the missing trailer.
 */
export function gunzipTolerant(data: Uint8Array, where: string): Buffer {
  if (data.length === 0) return Buffer.alloc(0);
  try {
    return gunzipSync(data, { finishFlush: constants.Z_SYNC_FLUSH });
  } catch (err) {
    throw new RunFolderError(`${where}: not readable as gzip: ${(err as Error).message}`);
  }
}

/** Splits text into complete lines; a last line without its newline was cut off and is returned apart. */
function completeLines(text: string): { lines: string[]; partial: string } {
  const end = text.lastIndexOf('\n');
  return { lines: end < 0 ? [] : text.slice(0, end).split('\n'), partial: text.slice(end + 1) };
}

/** All points of a run folder's points.lp.gz, in file order. Errors name file:line. */
export async function readRunPoints(dir: string): Promise<Point[]> {
  return (await readRunPointsDetailed(dir)).points;
}

export async function readRunPointsDetailed(
  dir: string,
): Promise<{ points: Point[]; truncatedLine: string }> {
  const path = join(dir, POINTS_FILE);
  const data = await readOptional(path);
  if (!data) return { points: [], truncatedLine: '' };
  const { lines, partial } = completeLines(gunzipTolerant(data, path).toString('utf8'));
  const points: Point[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === '' || line.startsWith('#')) continue;
    points.push(parseLine(line, `${path}:${i + 1}`));
  }
  return { points, truncatedLine: partial };
}

/** The events/annotations log, in order. Errors name file:line. */
export async function readRunEvents(dir: string): Promise<RecordedEvent[]> {
  const path = join(dir, EVENTS_FILE);
  const data = await readOptional(path);
  if (!data) return [];
  const { lines } = completeLines(data.toString('utf8'));
  return lines
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      let raw: Record<string, unknown>;
      try {
        raw = JSON.parse(line) as Record<string, unknown>;
      } catch (err) {
        throw new RunFolderError(`${path}:${i + 1}: not JSON: ${(err as Error).message}`);
      }
      if (typeof raw.time_ns !== 'string' || !/^\d+$/.test(raw.time_ns)) {
        throw new RunFolderError(`${path}:${i + 1}: $.time_ns must be a decimal string`);
      }
      if (typeof raw.kind !== 'string' || typeof raw.message !== 'string') {
        throw new RunFolderError(`${path}:${i + 1}: $.kind and $.message must be strings`);
      }
      return { ...raw, time_ns: BigInt(raw.time_ns) } as RecordedEvent;
    });
}

/** Every captured device frame, in capture order. */
export async function readRunFrames(
  dir: string,
): Promise<{ frames: CapturedFrameRecord[]; truncatedBytes: number }> {
  const path = join(dir, FRAMES_FILE);
  const data = await readOptional(path);
  if (!data) return { frames: [], truncatedBytes: 0 };
  return parsePcap(gunzipTolerant(data, path), path);
}

export interface RecordedRun {
  dir: string;
  manifest: RunManifest;
  points: Point[];
  events: RecordedEvent[];
  frames: CapturedFrameRecord[];
}

export async function readRun(dir: string): Promise<RecordedRun> {
  const manifest = await readManifest(dir);
  const [points, events, frames] = await Promise.all([
    readRunPoints(dir),
    readRunEvents(dir),
    readRunFrames(dir),
  ]);
  return { dir, manifest, points, events, frames: frames.frames };
}
