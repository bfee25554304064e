/**
 * Validation and authorisation of API commands. The JSON Schema below is the published contract
 * (docs/socket-api.md); ajv compiles it once, and its discriminator keeps error messages about the
 * command the client meant rather than every branch of the union.
 */

import { Ajv, type ErrorObject } from 'ajv';
import { ATTACK_PARAMETERS } from '../../twin/attacks/attacks.ts';
import {
  type ApiCommand,
  COMMAND_ROLES,
  type CommandType,
  type GridTopology,
  ROLE_RANK,
  type Role,
  SCENARIO_ACTIONS,
  STAFF_ROLES,
} from './api.ts';

const id = { type: 'string', minLength: 1, maxLength: 128 } as const;
/** Generous bounds: the twin checks device ratings; these only keep absurd numbers out. */
const power = { type: 'number', minimum: -1e6, maximum: 1e6 } as const;

const command = <T extends CommandType>(
  type: T,
  properties: Record<string, object> = {},
  required: string[] = [],
) => ({
  type: 'object',
  properties: { type: { const: type }, ...properties },
  required: ['type', ...required],
  additionalProperties: false,
});

export const commandSchema = {
  $id: 'https://gridloop.dev/schemas/socket-command.json',
  title: 'gridloop socket.io command',
  type: 'object',
  required: ['type'],
  discriminator: { propertyName: 'type' },
  oneOf: [
    command('breaker', { id, closed: { type: 'boolean' } }, ['id', 'closed']),
    command('island', { microgrid: id, islanded: { type: 'boolean' } }, ['islanded']),
    command('scenario', { action: { enum: [...SCENARIO_ACTIONS] }, name: { ...id, maxLength: 256 } }, [
      'action',
    ]),
    {
      ...command('setpoint', { deviceId: id, p_mw: power, q_mvar: power }, ['deviceId']),
      anyOf: [{ required: ['p_mw'] }, { required: ['q_mvar'] }],
    },
    command(
      'fid-setpoint',
      { fidId: id, p_mw: power, ramp_s: { type: 'number', minimum: 0, maximum: 86_400 } },
      ['fidId', 'p_mw'],
    ),
    command('emergency-stop'),
    command('rotate-token', { role: { enum: [...STAFF_ROLES] } }, ['role']),
    command(
      'attack',
      {
        action: { enum: ['start', 'stop'] },
        id,
        kind: id,
        target: id,
        duration_s: { type: 'number', exclusiveMinimum: 0, maximum: 86400 },
        ...Object.fromEntries(ATTACK_PARAMETERS.map((k) => [k, power])),
      },
      ['action'],
    ),
  ],
} as const;

const ajv = new Ajv({ discriminator: true, strict: true, strictRequired: false });
const validateSchema = ajv.compile(commandSchema);

export type Validation = { ok: true; command: ApiCommand } | { ok: false; reason: string };

function describe(error: ErrorObject): string {
  const where = error.instancePath === '' ? 'command' : `command${error.instancePath}`;
  if (error.keyword === 'additionalProperties') {
    return `${where} has unknown field '${(error.params as { additionalProperty: string }).additionalProperty}'`;
  }
  if (error.keyword === 'discriminator') {
    const known = Object.keys(COMMAND_ROLES).join(', ');
    return `command/type must be one of ${known}`;
  }
  if (error.keyword === 'anyOf') return `${where} needs p_mw or q_mvar`;
  if (error.keyword === 'enum') {
    return `${where} must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  }
  return `${where} ${error.message ?? 'is invalid'}`;
}

/** Checks a command's shape; `reason` names the JSON path and what was wrong. */
export function validateCommand(input: unknown): Validation {
  if (validateSchema(input)) return { ok: true, command: input as unknown as ApiCommand };
  const errors = validateSchema.errors ?? [];
  // anyOf reports its branches first; the summary is the useful line.
  const error = errors.find((e) => e.keyword === 'anyOf') ?? errors[0];
  return { ok: false, reason: error ? describe(error) : 'command is invalid' };
}

/**
 * Checks ids against the grid, when the server knows it, so a typo is refused with a clear reason
 * before it reaches the loop. Returns undefined when the command refers only to known elements.
 */
export function unknownReference(command: ApiCommand, topology: GridTopology | null): string | undefined {
  if (!topology) return undefined;
  const has = (list: readonly { id: string }[], wanted: string) => list.some((x) => x.id === wanted);
  switch (command.type) {
    case 'breaker':
      // The twin switches breakers and, like a real bay, any branch by id.
      return has(topology.switches, command.id) || has(topology.lines, command.id)
        ? undefined
        : `command/id: no switch or branch '${command.id}' in the grid`;
    case 'setpoint':
      return has(topology.ders, command.deviceId)
        ? undefined
        : `command/deviceId: no device '${command.deviceId}' in the grid`;
    case 'fid-setpoint':
      return has(topology.fids, command.fidId)
        ? undefined
        : `command/fidId: no FID '${command.fidId}' in the grid`;
    case 'island':
      return command.microgrid === undefined || has(topology.microgrids, command.microgrid)
        ? undefined
        : `command/microgrid: no microgrid '${command.microgrid}' in the grid`;
    default:
      return undefined;
  }
}

/** The least role allowed to send this command: set-points to hardware devices need admin. */
export function requiredRole(command: ApiCommand, topology: GridTopology | null): Role {
  if (command.type === 'setpoint' && topology?.ders.some((d) => d.id === command.deviceId && d.hardware)) {
    return 'admin';
  }
  return COMMAND_ROLES[command.type];
}

export function roleAllows(role: Role, needed: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[needed];
}

/** Command types a role may send (for the welcome message and the page's controls). */
export function commandsFor(role: Role): CommandType[] {
  return (Object.keys(COMMAND_ROLES) as CommandType[]).filter((type) =>
    roleAllows(role, COMMAND_ROLES[type]),
  );
}
