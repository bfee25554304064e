/**
 * Controllers as data in the run configuration (docs/bench.md, "Controllers"): which module
 * provides each controller, its id and its options. The loop process hosts them off the step path
 * (host.ts); this file only says what a declaration is and checks one.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Controller, TwinCatalog } from '../../../twin/control/contract.ts';

/**
 * What a controller module's default export is: builds the controller from its declaration's
 * options. Runs in the controller's worker thread, never in the loop's.
 */
export type ControllerFactory = (
  options: Readonly<Record<string, unknown>>,
  /**
   * `catalog`: the twin's actuators, as `attach` will also receive them. `runDir`: the run's folder
   * when the run is recorded (a controller may write its own records there, e.g. at detach).
   */
  context: { id: string; catalog: TwinCatalog; runDir?: string },
) => Controller | Promise<Controller>;

/** One controller of a run: `controllers: [{ module, id, options }]` in the run config. */
export interface ControllerSpec {
  /**
   * A registered name (`REGISTERED_CONTROLLERS`) or a path to an ES module (TypeScript or
   * JavaScript) whose default export is a `ControllerFactory`. A relative path is resolved against
   * the run config's folder (against the working directory on the command line).
   */
  module: string;
  /** Unique in the run; becomes the controller's id (events, ownership). */
  id: string;
  /** Handed to the factory as they are (JSON-like data). */
  options?: Record<string, unknown>;
  /**
   * Wall-clock seconds a decision may take before the controller is declared hung, stopped and
   * reported. @default max(2, 10 × its period)
   */
  timeout_s?: number;
}

/** Controllers the bench ships, by name. */
export const REGISTERED_CONTROLLERS: Readonly<Record<string, string>> = {
  'setpoint-schedule': fileURLToPath(new URL('./builtin/setpoint-schedule.ts', import.meta.url)),
  vpp: fileURLToPath(new URL('./builtin/vpp.ts', import.meta.url)),
  market: fileURLToPath(new URL('./builtin/market.ts', import.meta.url)),
};

export class ControllerSpecError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'ControllerSpecError';
  }
}

const ID_PATTERN = /^[A-Za-z0-9_.:-]+$/;

/**
 * Checks a `controllers` list and returns it with every module resolved to an absolute file path.
 * `where(i, key)` names the entry in errors (file:line and JSON path when read from a file);
 * `baseDir` is where relative module paths start from.
 */
export function checkControllerSpecs(
  value: unknown,
  baseDir: string,
  where: (index?: number, key?: string) => string = (i, key) =>
    i === undefined ? 'controllers' : `controllers[${i}]${key ? `.${key}` : ''}`,
): ControllerSpec[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ControllerSpecError(`${where()}: controllers must be a list`);
  const seen = new Set<string>();
  return value.map((entry, i) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      throw new ControllerSpecError(`${where(i)}: a controller is an object { module, id, options }`);
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if (!['module', 'id', 'options', 'timeout_s'].includes(key))
        throw new ControllerSpecError(
          `${where(i, key)}: unknown key '${key}' (module, id, options, timeout_s)`,
        );
    }
    if (typeof e.id !== 'string' || !ID_PATTERN.test(e.id))
      throw new ControllerSpecError(
        `${where(i, 'id')}: id must be a non-empty string of letters, digits, _ . : -`,
      );
    if (seen.has(e.id))
      throw new ControllerSpecError(`${where(i, 'id')}: controller '${e.id}' is declared twice`);
    seen.add(e.id);
    if (typeof e.module !== 'string' || e.module === '')
      throw new ControllerSpecError(`${where(i, 'module')}: module must be a registered name or a file path`);
    if (
      e.options !== undefined &&
      (typeof e.options !== 'object' || e.options === null || Array.isArray(e.options))
    )
      throw new ControllerSpecError(`${where(i, 'options')}: options must be an object`);
    if (
      e.timeout_s !== undefined &&
      !(typeof e.timeout_s === 'number' && e.timeout_s > 0 && Number.isFinite(e.timeout_s))
    )
      throw new ControllerSpecError(
        `${where(i, 'timeout_s')}: timeout_s must be a positive number of seconds`,
      );
    const module = resolveControllerModule(e.module, baseDir);
    if (!module) {
      throw new ControllerSpecError(
        `${where(i, 'module')}: '${e.module}' is neither a registered controller (${Object.keys(REGISTERED_CONTROLLERS).join(', ')}) nor an existing file`,
      );
    }
    return {
      module,
      id: e.id,
      ...(e.options === undefined ? {} : { options: e.options as Record<string, unknown> }),
      ...(e.timeout_s === undefined ? {} : { timeout_s: e.timeout_s as number }),
    };
  });
}

/** The file a module reference names, or undefined when there is none. */
function resolveControllerModule(module: string, baseDir: string): string | undefined {
  const registered = REGISTERED_CONTROLLERS[module];
  if (registered) return registered;
  const file = isAbsolute(module) ? module : resolve(baseDir, module);
  return existsSync(file) ? file : undefined;
}

/** The folder relative module paths of a run config file start from. */
export function controllerBaseDir(file: string): string {
  return dirname(resolve(file));
}
