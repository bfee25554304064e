import { type ParseArgsConfig, parseArgs } from 'node:util';
import { usageError } from './exit-codes.ts';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses a command's arguments with node:util parseArgs, turning its exceptions into usage errors
 * that name the command, so a bad flag exits 2 with one readable line.
 */
export function parseCommandArgs<T extends OptionSpec>(command: string, argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw usageError(`gridloop ${command}: ${(err as Error).message}`);
  }
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
