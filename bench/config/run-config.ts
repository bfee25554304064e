/**
 * The run config file (`gridloop run --devices FILE`, docs/bench.md): the device mapping and the
 * controllers the loop hosts, one YAML file validated against bench/devices/device-mapping.schema.json.
 * Errors name the file, line and JSON path.
 */
import { DeviceMappingError, readMappingFile, readRunConfigDocument } from '../devices/device-mapping.ts';
import type { DeviceLinkConfig } from '../devices/link-config.ts';
import {
  type ControllerSpec,
  ControllerSpecError,
  checkControllerSpecs,
  controllerBaseDir,
} from '../runtime/controllers/spec.ts';

export interface RunConfigFile {
  devices: DeviceLinkConfig[];
  /** Modules resolved to absolute paths (relative ones against the file's folder). */
  controllers: ControllerSpec[];
}

/** Parses a run config file's text; `file` names it in errors (a DeviceMappingError). */
export function parseRunConfig(text: string, file: string): RunConfigFile {
  const { data, at } = readRunConfigDocument(text, file);
  try {
    return {
      devices: data.devices,
      controllers: checkControllerSpecs(data.controllers, controllerBaseDir(file), at('controllers')),
    };
  } catch (err) {
    if (err instanceof ControllerSpecError) throw new DeviceMappingError(err.message);
    throw err;
  }
}

export async function loadRunConfig(file: string): Promise<RunConfigFile> {
  return parseRunConfig(await readMappingFile(file), file);
}
