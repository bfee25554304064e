/**
 * The run config's device mapping (docs/bench.md): a YAML file with `devices: [...]`, or
 * `--device name=[driver:]port[:baud]` on the command line. Validated with the JSON Schema in
 * device-mapping.schema.json (ajv); errors name the file, line and JSON path. Two checks the schema
 * cannot express stay in code: ids are unique, and a serial driver has a port path once the
 * command line's --device entries are merged in.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import { pathOfPointer, YamlSourceError, yamlToJs } from '../../twin/yaml-source.ts';
import type { DeviceLinkConfig } from './link-config.ts';

const SCHEMA_URL = new URL('./device-mapping.schema.json', import.meta.url);

/** The published schema (device-mapping.schema.json), as an object. */
export function deviceMappingSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(SCHEMA_URL, 'utf8'));
}

let validator: ValidateFunction | undefined;
function validate(): ValidateFunction {
  if (!validator) validator = new Ajv({ allErrors: false, strict: false }).compile(deviceMappingSchema());
  return validator;
}

/** What went wrong, in words a user of the file understands. */
function describeError(err: ErrorObject): string {
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'additionalProperties':
      return `unknown key '${String(params.additionalProperty)}'`;
    case 'enum':
      return `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'false schema':
      return 'not allowed here (e.g. signing applies to the firmware driver only)';
    default:
      return err.message ?? err.keyword;
  }
}

export class DeviceMappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceMappingError';
  }
}

function checkDevices(devices: DeviceLinkConfig[], where: (index: number, key?: string) => string): void {
  const seen = new Set<string>();
  devices.forEach((d, i) => {
    if (seen.has(d.id)) throw new DeviceMappingError(`${where(i, 'id')}: device '${d.id}' is mapped twice`);
    seen.add(d.id);
    if ((d.driver ?? 'firmware') !== 'simulated' && !d.path) {
      throw new DeviceMappingError(
        `${where(i, 'path')}: device '${d.id}' needs a port path for driver ${d.driver ?? 'firmware'}`,
      );
    }
    if (d.bus !== undefined) d.bus = String(d.bus);
  });
}

/** Names a list entry (or the list) of a run config file in errors: `file:line (at /list/i/key)`. */
export type EntryLocator = (list: string) => (index?: number, key?: string) => string;

/** Parses a mapping file's text; `file` names it in errors. */
export function parseDeviceMapping(text: string, file: string): DeviceLinkConfig[] {
  return readRunConfigDocument(text, file).data.devices;
}

/**
 * Parses and validates a run config file's text against the schema (devices and controllers),
 * checks the devices, and returns the data with a locator for errors about its entries.
 */
export function readRunConfigDocument(
  text: string,
  file: string,
): { data: { devices: DeviceLinkConfig[]; controllers?: unknown }; at: EntryLocator } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new DeviceMappingError(`${file}:${e.linePos?.[0].line ?? '?'}: ${e.message.split('\n')[0]}`);
  }
  let data: unknown;
  try {
    data = yamlToJs(doc, text);
  } catch (err) {
    if (err instanceof YamlSourceError)
      throw new DeviceMappingError(`${file}${err.line === undefined ? '' : `:${err.line}`}: ${err.reason}`);
    throw err;
  }
  const lineOf = (path: (string | number)[]) => {
    const node = (path.length === 0 ? doc.contents : doc.getIn(path, true)) as
      | { range?: [number, number, number] }
      | null
      | undefined;
    return node?.range ? lineCounter.linePos(node.range[0]).line : undefined;
  };
  const check = validate();
  if (!check(data)) {
    const err = check.errors![0];
    const segments = pathOfPointer(err.instancePath);
    const extra = (err.params as { additionalProperty?: string }).additionalProperty;
    const path = extra ? [...segments, extra] : segments;
    // The offending node, or the nearest ancestor the document has (a missing key: its object).
    let line: number | undefined;
    for (let depth = path.length; depth >= 0 && line === undefined; depth--)
      line = lineOf(path.slice(0, depth));
    const at = `${err.instancePath}${extra ? `/${extra}` : ''}` || '/';
    throw new DeviceMappingError(`${file}${line ? `:${line}` : ''} (at ${at}): ${describeError(err)}`);
  }
  const parsed = data as { devices: DeviceLinkConfig[]; controllers?: unknown };
  const at: EntryLocator = (list) => (i, key) => {
    const path = i === undefined ? [list] : [list, i, key ?? 'id'];
    const line = lineOf(path) ?? lineOf(path.slice(0, 2));
    return `${file}${line ? `:${line}` : ''} (at /${path.slice(0, key ? 3 : 2).join('/')})`;
  };
  checkDevices(parsed.devices, at('devices'));
  return { data: parsed, at };
}

export async function loadDeviceMapping(file: string): Promise<DeviceLinkConfig[]> {
  return parseDeviceMapping(await readMappingFile(file), file);
}

/** A run config file's text; a DeviceMappingError naming the file when it cannot be read. */
export async function readMappingFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new DeviceMappingError(
      `${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  return text;
}

/**
 * `name=[driver:]port[:baud]`, e.g. `bess-hw=/dev/ttyACM0`, `pv=sunspec:/dev/ttyUSB0:19200`,
 * `bess=simulated`.
 */
export function parseDeviceOption(spec: string): DeviceLinkConfig {
  const eq = spec.indexOf('=');
  const id = spec.slice(0, eq);
  let rest = spec.slice(eq + 1);
  if (eq <= 0 || rest === '') {
    throw new DeviceMappingError(
      `--device '${spec}': expected name=[driver:]port[:baud], e.g. bess-hw=/dev/ttyACM0`,
    );
  }
  if (rest === 'simulated') return { id, driver: 'simulated' };
  let driver: DeviceLinkConfig['driver'] = 'firmware';
  const prefix = /^(firmware|sunspec):/.exec(rest);
  if (prefix) {
    driver = prefix[1] as 'firmware' | 'sunspec';
    rest = rest.slice(prefix[0].length);
  }
  let baud: number | undefined;
  const baudMatch = /:(\d+)$/.exec(rest);
  if (baudMatch) {
    baud = Number(baudMatch[1]);
    rest = rest.slice(0, -baudMatch[0].length);
    if (baud < 50 || baud > 4_000_000)
      throw new DeviceMappingError(`--device '${spec}': baud ${baud} is out of range`);
  }
  if (!rest) throw new DeviceMappingError(`--device '${spec}': no port path`);
  return { id, driver, path: rest, ...(baud !== undefined ? { baud } : {}) };
}

/** Command-line devices override (by id) or add to the file's. */
export function mergeDeviceMappings(file: DeviceLinkConfig[], cli: DeviceLinkConfig[]): DeviceLinkConfig[] {
  const byId = new Map(file.map((d) => [d.id, d]));
  for (const d of cli) byId.set(d.id, { ...byId.get(d.id), ...d });
  const out = [...byId.values()];
  checkDevices(out, (_, key) => `--device${key ? ` (${key})` : ''}`);
  return out;
}
