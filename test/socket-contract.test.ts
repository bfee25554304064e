/**
 * The socket.io contract, bench/server/api.ts, against its two clients in this repository: the live
 * page (bench/web) and the Node-RED package (flows/). The page imports the contract and its socket
 * is typed by it (`npm run check` type-checks the page); the node package installs on its own, so
 * it cannot import it, and these checks are what keep it honest: every event a client listens for
 * or sends is one the server has, and every command the nodes build is one the server accepts,
 * with a role the documented operator token holds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CLIENT_EVENTS,
  COMMAND_ROLES,
  SCENARIO_ACTIONS,
  SERVER_EVENTS,
  SEVERITIES,
} from '../bench/server/api.ts';
import { commandsFor, requiredRole, roleAllows, validateCommand } from '../bench/server/commands.ts';
import { DEFAULT_LIMITS } from '../bench/server/live-server.ts';

const require = createRequire(import.meta.url);
const repoRoot = join(import.meta.dirname, '..');

type Built = { command?: { type: string }; problem?: string };
const { buildCommand, KINDS } = require('../flows/nodes/gridloop-command.js') as {
  buildCommand(kind: string, target: string, msg: Record<string, unknown>): Built;
  KINDS: string[];
};
const { scenarioCommand } = require('../flows/nodes/gridloop-scenario.js') as {
  scenarioCommand(action: string, name?: string): { type: string };
};
const protocol = require('../flows/nodes/protocol.js') as {
  SEVERITIES: string[];
  SCENARIO_ACTIONS: string[];
  SERVER_RATE_HZ: { min: number; max: number };
};

/** Events of the VPP and market operator views and the prosumer views, which the Node-RED nodes do not use. */
const NOT_FOR_NODE_RED = ['vpp', 'market', 'prosumer', 'preferences', 'campaign'];

/** Events socket.io's client raises itself; no server sends them. */
const CLIENT_SIDE_EVENTS = ['connect', 'connect_error', 'disconnect'];

/** The sources of a client: the node package's scripts, or the page's modules. */
function sources(folder: string, extension: string): { file: string; text: string }[] {
  return readdirSync(join(repoRoot, folder))
    .filter((name) => name.endsWith(extension) && !name.endsWith(`.test${extension}`))
    .map((name) => ({ file: `${folder}/${name}`, text: readFileSync(join(repoRoot, folder, name), 'utf8') }));
}

/**
 * The socket events a client's code names: `<x>.on('name'` (a listener; `this.on` is Node-RED's
 * own input and close) and `.emit('name'` / `.emitWithAck('name'` (sent). Each with where it is.
 */
function eventsUsed(files: { file: string; text: string }[]) {
  const heard: { name: string; where: string }[] = [];
  const sent: { name: string; where: string }[] = [];
  for (const { file, text } of files) {
    const where = (index: number) => `${file}:${text.slice(0, index).split('\n').length}`;
    for (const m of text.matchAll(/(\w+)\.on\(\s*'([^']+)'/g)) {
      if (m[1] !== 'this') heard.push({ name: m[2], where: where(m.index) });
    }
    for (const m of text.matchAll(/\.emit(?:WithAck)?\(\s*'([^']+)'/g)) {
      sent.push({ name: m[1], where: where(m.index) });
    }
  }
  return { heard, sent };
}

const unknownEvents = (used: { name: string; where: string }[], known: readonly string[]) =>
  used.filter((e) => !known.includes(e.name)).map((e) => `${e.where}: '${e.name}'`);

describe('the Node-RED package against the socket contract', () => {
  it('listens only for events the server sends and sends only events the server takes', () => {
    const { heard, sent } = eventsUsed(sources('flows/nodes', '.js'));
    // The scan found the connection's listeners and the client events, so it is not vacuous. The
    // VPP and prosumer views and campaign progress are the live page's (the nodes drive the bench).
    const forNodes = (events: readonly string[]) => events.filter((e) => !NOT_FOR_NODE_RED.includes(e));
    expect(new Set(heard.map((e) => e.name))).toEqual(
      new Set([...forNodes(SERVER_EVENTS), ...CLIENT_SIDE_EVENTS]),
    );
    expect(new Set(sent.map((e) => e.name))).toEqual(new Set(forNodes(CLIENT_EVENTS)));
    expect(unknownEvents(heard, [...SERVER_EVENTS, ...CLIENT_SIDE_EVENTS])).toEqual([]);
    expect(unknownEvents(sent, CLIENT_EVENTS)).toEqual([]);
  });

  /** One message per command kind of the command node ('msg' passes the user's own object on). */
  const samples: Record<string, { target: string; msg: Record<string, unknown> }> = {
    setpoint: { target: 'bess-25', msg: { payload: { p_mw: 0.2, q_mvar: -0.05 } } },
    breaker: { target: 'pcc-mg1', msg: { payload: 'open' } },
    island: { target: 'MG1', msg: { payload: 'island' } },
    'fid-setpoint': { target: 'fid-25-29', msg: { payload: -0.1 } },
    scenario: { target: 'island-transition', msg: { payload: 'start' } },
    'emergency-stop': { target: '', msg: { payload: true } },
  };

  it('every command the nodes build is one the server accepts, and an operator token may send it', () => {
    expect(Object.keys(samples).sort()).toEqual(KINDS.filter((k) => k !== 'msg').sort());
    const built = [
      ...Object.entries(samples).map(([kind, { target, msg }]) => {
        const { command, problem } = buildCommand(kind, target, msg);
        expect(problem, kind).toBeUndefined();
        return command!;
      }),
      ...protocol.SCENARIO_ACTIONS.map((action) => scenarioCommand(action, 'island-transition')),
      scenarioCommand('stop'),
    ];
    for (const command of built) {
      const validation = validateCommand(command);
      expect(validation, JSON.stringify(command)).toEqual({ ok: true, command });
      if (!validation.ok) continue;
      expect(Object.keys(COMMAND_ROLES)).toContain(command.type);
      // The nodes' documentation promises an operator token is enough (no hardware device here).
      expect(roleAllows('operator', requiredRole(validation.command, null)), command.type).toBe(true);
      expect(commandsFor('operator')).toContain(command.type);
    }
  });

  it('carries the same severities, scenario actions and rate ceiling as the server', () => {
    expect(protocol.SEVERITIES).toEqual([...SEVERITIES]);
    expect([...protocol.SCENARIO_ACTIONS].sort()).toEqual([...SCENARIO_ACTIONS].sort());
    expect(protocol.SERVER_RATE_HZ.max).toBe(DEFAULT_LIMITS.maxRate_hz);
  });
});

describe('the live page against the socket contract', () => {
  const page = sources('bench/web', '.ts');

  it('listens only for events the server sends and sends only events the server takes', () => {
    const { heard, sent } = eventsUsed(page);
    expect(unknownEvents(heard, [...SERVER_EVENTS, ...CLIENT_SIDE_EVENTS])).toEqual([]);
    // The page shows everything the server sends, and sends both client events.
    expect(heard.map((e) => e.name)).toEqual(expect.arrayContaining([...SERVER_EVENTS]));
    expect(new Set(sent.map((e) => e.name))).toEqual(new Set(CLIENT_EVENTS));
  });

  it('offers and sends only command types the server has', () => {
    const named = page.flatMap(({ file, text }) =>
      [...text.matchAll(/\btype: '([^']+)'|\bcan\('([^']+)'\)/g)].map((m) => ({
        name: m[1] ?? m[2],
        where: `${file}:${text.slice(0, m.index).split('\n').length}`,
      })),
    );
    expect(named.length).toBeGreaterThanOrEqual(Object.keys(COMMAND_ROLES).length - 1);
    expect(unknownEvents(named, Object.keys(COMMAND_ROLES))).toEqual([]);
  });
});
