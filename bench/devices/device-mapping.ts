/**
 * The run config's device mapping (docs/bench.md): a YAML file with `devices: [...]`, or
 * `--device name=[driver:]port[:baud]` on the command line. Validated with a JSON Schema (ajv);
 * errors name the file, line and JSON path.
 */
import { readFile } from 'node:fs/promises';
import { Ajv } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import type { DeviceLinkConfig } from '../runtime/messages.ts';

const limitsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    pMax_w: { type: 'number', minimum: 0 },
    pMin_w: { type: 'number' },
    qMaxAbs_var: { type: 'number', minimum: 0 },
    pRate_w_s: { type: 'number', minimum: 0 },
    qRate_var_s: { type: 'number', minimum: 0 },
  },
};

export const DEVICE_MAPPING_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['devices'],
  properties: {
    devices: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id'],
        properties: {
          id: { type: 'string', minLength: 1 },
          driver: { enum: ['firmware', 'sunspec', 'simulated'] },
          path: { type: 'string', minLength: 1 },
          baud: { type: 'integer', minimum: 50, maximum: 4000000 },
          bus: { type: ['string', 'integer'] },
          rating_mva: { type: 'number', exclusiveMinimum: 0 },
          exchangeEvery: { type: 'integer', minimum: 1 },
          powerScale: { type: 'number', exclusiveMinimum: 0 },
          signConvention: { enum: ['generator', 'load'] },
          fallback: { enum: ['twin', 'simulated', 'trip'] },
          missedBeforeOffline: { type: 'integer', minimum: 1 },
          protocolDeviceId: { type: 'integer', minimum: 0, maximum: 65535 },
          signing: {
            type: 'object',
            additionalProperties: false,
            required: ['keyHex'],
            properties: {
              keyHex: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
              linkId: { type: 'integer', minimum: 0, maximum: 255 },
              requireSigned: { type: 'boolean' },
            },
          },
          limits: limitsSchema,
          simulated: {
            type: 'object',
            additionalProperties: false,
            properties: {
              rating_w: { type: 'number', exclusiveMinimum: 0 },
              capacity_wh: { type: 'number', exclusiveMinimum: 0 },
              soc0: { type: 'number', minimum: 0, maximum: 1 },
              droop_pu: { type: 'number', exclusiveMinimum: 0 },
              f0_hz: { type: 'number', exclusiveMinimum: 0 },
            },
          },
        },
      },
    },
  },
} as const;

export class DeviceMappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceMappingError';
  }
}

const validate = new Ajv({ allErrors: false, strict: false }).compile(DEVICE_MAPPING_SCHEMA);

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

/** Parses a mapping file's text; `file` names it in errors. */
export function parseDeviceMapping(text: string, file: string): DeviceLinkConfig[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new DeviceMappingError(`${file}:${e.linePos?.[0].line ?? '?'}: ${e.message.split('\n')[0]}`);
  }
  const data = doc.toJS() as unknown;
  const lineOf = (path: (string | number)[]) => {
    const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    return node?.range ? lineCounter.linePos(node.range[0]).line : undefined;
  };
  if (!validate(data)) {
    const err = validate.errors![0];
    const segments = err.instancePath
      .split('/')
      .slice(1)
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    const extra = (err.params as { additionalProperty?: string }).additionalProperty;
    const line = lineOf(extra ? [...segments, extra] : segments) ?? lineOf(segments.slice(0, -1));
    const at = `${err.instancePath || '/'}${extra ? `/${extra}` : ''}`;
    throw new DeviceMappingError(
      `${file}${line ? `:${line}` : ''} (at ${at}): ${extra ? `unknown key '${extra}'` : err.message}`,
    );
  }
  const devices = (data as { devices: DeviceLinkConfig[] }).devices;
  checkDevices(devices, (i, key) => {
    const line = lineOf(['devices', i, key ?? 'id']) ?? lineOf(['devices', i]);
    return `${file}${line ? `:${line}` : ''} (at /devices/${i}${key ? `/${key}` : ''})`;
  });
  return devices;
}

export async function loadDeviceMapping(file: string): Promise<DeviceLinkConfig[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new DeviceMappingError(
      `${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  return parseDeviceMapping(text, file);
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
