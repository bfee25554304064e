/**
 * Reads a grid from a MATPOWER (.m) or YAML (.yaml/.yml) file, by extension.
 * Every failure is a GridInputError naming the file (and line and path where there is one).
 */
import { readFileSync } from 'node:fs';
import { parseMatpower } from './matpower.ts';
import { type Grid, GridInputError } from './model.ts';
import type { ElementLocator } from './validate.ts';
import { parseGridYaml } from './yaml.ts';

export type GridFileKind = 'matpower' | 'yaml';

export function gridFileKind(file: string): GridFileKind {
  if (/\.m$/i.test(file)) return 'matpower';
  if (/\.ya?ml$/i.test(file)) return 'yaml';
  throw new GridInputError('unknown grid file type: expected .m (MATPOWER) or .yaml/.yml', { file });
}

/** Parses grid text; `file` picks the format and names the file in errors. */
export function parseGridText(text: string, file: string): Grid {
  return gridFileKind(file) === 'matpower' ? parseMatpower(text, file).grid : parseGridYaml(text, file).grid;
}

export function loadGrid(file: string): Grid {
  return loadGridWithLocations(file).grid;
}

/** Like loadGrid, also returning where each element is in the file (for later errors). */
export function loadGridWithLocations(file: string): { grid: Grid; locate: ElementLocator } {
  const kind = gridFileKind(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new GridInputError(
      `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      {
        file,
      },
    );
  }
  return kind === 'matpower' ? parseMatpower(text, file) : parseGridYaml(text, file);
}
