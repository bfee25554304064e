/**
 * Loads a grid file for the twin: MATPOWER `.m` or the project's YAML grid format
 * (docs/grid-format.md, parsed by twin/grid/), plus the YAML file's optional `twin:` section with
 * the twin's own settings (TwinConfig, docs/twin.md).
 */
import { readFile } from 'node:fs/promises';
import { gridFileKind } from './grid/load.ts';
import { parseMatpower } from './grid/matpower.ts';
import { type Grid, GridInputError } from './grid/model.ts';
import { parseGridYaml } from './grid/yaml.ts';
import type { TwinConfig } from './twin.ts';

export interface LoadedGrid {
  grid: Grid;
  config: TwinConfig;
  file: string;
}

/** Reads a grid file (.m or .yaml/.yml). Throws GridInputError naming file, line and path. */
export async function loadGridFile(file: string): Promise<LoadedGrid> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new GridInputError(`cannot read grid file: ${(err as Error).message}`, { file });
  }
  if (gridFileKind(file) === 'matpower') return { grid: parseMatpower(text, file).grid, config: {}, file };
  // The grid format carries the twin's settings under `twin:` untouched (docs/grid-format.md).
  const { grid, twin } = parseGridYaml(text, file);
  return { grid, config: (twin ?? {}) as TwinConfig, file };
}
