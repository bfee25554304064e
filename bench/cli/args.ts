import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { usageError } from './exit-codes.ts';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Levenshtein distance: how many one-letter edits turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}

/** The candidate closest to `typed`, when it is close enough to be the likely intent (a typo). */
export function closest(typed: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(typed.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  // Up to a third of the word mistyped: "simulte" → simulate, but "foo" suggests nothing.
  return bestDistance <= Math.max(1, Math.floor(typed.length / 3)) ? best : undefined;
}

/** Old option names still accepted: the new name, and how the old value converts to the new unit. */
export interface DeprecatedOption {
  replacement: string;
  convert: (raw: string) => string;
}

/**
 * Parses a command's arguments with node:util parseArgs, turning its exceptions into usage errors
 * that name the command and the option and point to the command's --help, so a bad flag exits 2
 * with one readable line. Deprecated options are accepted, converted, and named on stderr.
 */
export function parseCommandArgs<T extends OptionSpec>(
  command: string,
  argv: string[],
  options: T,
  deprecated: Record<string, DeprecatedOption> = {},
) {
  const all: OptionSpec = { ...options };
  for (const name of Object.keys(deprecated)) all[name] = { type: 'string' };
  const parse = () => {
    try {
      return parseArgs({ args: argv, options: all as T, allowPositionals: true, strict: true });
    } catch (err) {
      throw usageError(parseErrorMessage(command, err as Error & { code?: string }, options));
    }
  };
  const parsed = parse();
  const values = parsed.values as Record<string, unknown>;
  for (const [old, { replacement, convert }] of Object.entries(deprecated)) {
    const raw = values[old];
    if (typeof raw !== 'string') continue;
    delete values[old];
    if (values[replacement] !== undefined) {
      throw usageError(`gridloop ${command}: give --${replacement} only (--${old} is its old name)`);
    }
    values[replacement] = convert(raw);
    console.error(
      `gridloop ${command}: --${old} is deprecated and will be removed; use --${replacement} ${values[replacement]}`,
    );
  }
  return parsed;
}

function parseErrorMessage(command: string, err: Error & { code?: string }, options: OptionSpec): string {
  const help = `Run 'gridloop ${command} --help' for its options.`;
  // parseArgs quotes the option it stumbled on: "Unknown option '--bogus'", "Option '--out <value>' …".
  const quoted = /'(-{1,2}[^' ]+)/.exec(err.message)?.[1];
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted) {
    const name = quoted.replace(/^-+/, '').split('=')[0];
    const suggestion = closest(name, Object.keys(options));
    return `gridloop ${command}: unknown option ${quoted}${
      suggestion ? ` (did you mean --${suggestion}?)` : ''
    }. ${help}`;
  }
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && quoted) {
    const name = quoted.replace(/^-+/, '');
    return options[name]?.type === 'boolean'
      ? `gridloop ${command}: option ${quoted} takes no value. ${help}`
      : `gridloop ${command}: option ${quoted} needs a value (${quoted} VALUE). ${help}`;
  }
  return `gridloop ${command}: ${err.message.split('. ')[0]}. ${help}`;
}

/** Parses a numeric option, rejecting NaN, infinities and values outside [min, max]. */
export function numberOption(
  command: string,
  name: string,
  raw: string | undefined,
  fallback: number,
  min = Number.NEGATIVE_INFINITY,
  max = Number.POSITIVE_INFINITY,
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
    throw usageError(`gridloop ${command}: --${name} must be a number in [${min}, ${max}], got '${raw}'`);
  }
  return value;
}

/** `--dt S` (seconds) as the value of its replacement `--dt-ms` (milliseconds). */
export const dtSecondsAlias: Record<string, DeprecatedOption> = {
  dt: {
    replacement: 'dt-ms',
    convert: (raw) => {
      const seconds = Number(raw);
      return raw.trim() !== '' && Number.isFinite(seconds) ? String(seconds * 1000) : raw;
    },
  },
};

/**
 * Checks that an input the user named exists and is a file (or a folder, for a run folder), before
 * a loader would report a bare ENOENT. Messages name the input as typed and say where to look.
 */
export function checkInputPath(
  command: string,
  what: 'scenario file' | 'run folder' | 'grid file',
  typed: string,
  path: string,
): void {
  const where =
    what === 'scenario file'
      ? 'the shipped scenarios are in scenarios/, e.g. scenarios/island-transition.yaml'
      : what === 'grid file'
        ? 'the shipped grids are in grids/, e.g. grids/demo-33bw-microgrids.yaml or grids/matpower/case33bw.m'
        : 'runs are recorded under runs/ (or the --runs-dir given to the run); list them with ls runs';
  if (!existsSync(path)) {
    throw usageError(
      `gridloop ${command}: ${what} '${typed}' does not exist. Check the path (relative to ${process.cwd()}); ${where}.`,
    );
  }
  const isFolder = statSync(path).isDirectory();
  if (what === 'scenario file' && isFolder) {
    throw usageError(
      `gridloop ${command}: '${typed}' is a folder, not a scenario file; give one .yaml file in it.`,
    );
  }
  if (what === 'grid file' && isFolder) {
    throw usageError(
      `gridloop ${command}: '${typed}' is a folder, not a grid file; give one MATPOWER .m or grid .yaml file in it.`,
    );
  }
  if (what === 'run folder' && !isFolder) {
    throw usageError(`gridloop ${command}: '${typed}' is a file, not a run folder; ${where}.`);
  }
}

/** checkInputPath for a scenario file. */
export const checkScenarioFile = (command: string, typed: string, path: string) =>
  checkInputPath(command, 'scenario file', typed, path);

/**
 * When a scenario failed to load, says so plainly if the file is a grid (MATPOWER case or gridloop
 * grid YAML) given where a scenario is expected; undefined when it does not look like one.
 */
export function gridGivenAsScenario(command: string, typed: string, path: string): string | undefined {
  let head: string;
  try {
    head = readFileSync(path, 'utf8').slice(0, 64 * 1024);
  } catch {
    return undefined;
  }
  const fix = `use 'gridloop powerflow ${typed}' to solve it, or write a scenario whose grid: names it (docs/scenario-format.md)`;
  if (
    extname(path).toLowerCase() === '.m' ||
    /^\s*function\s+mpc\s*=|^\s*mpc\.(bus|branch|gen)\s*=/m.test(head)
  ) {
    return `gridloop ${command}: ${typed} is a MATPOWER case, not a scenario: ${fix}.`;
  }
  // A gridloop grid file has top-level buses and lines; a scenario has neither (it names its grid).
  if (/^buses\s*:/m.test(head) && /^(lines|branches)\s*:/m.test(head) && !/^grid\s*:/m.test(head)) {
    return `gridloop ${command}: ${typed} is a grid file, not a scenario: ${fix}.`;
  }
  return undefined;
}
