/**
 * Type tests: the event maps, the command union, its JSON Schema and the role table agree, and
 * typed servers and clients reject wrong payloads at compile time.
 */
import type { Server } from 'socket.io';
import type { Socket as ClientSocket } from 'socket.io-client';
import { describe, expectTypeOf, it } from 'vitest';
import type { MicrogridState, TwinCommand } from '../../twin/api.ts';
import type { RecordedEmsMode } from '../runtime/snapshot-points.ts';
import type {
  ApiCommand,
  AuditEntry,
  CLIENT_EVENTS,
  ClientData,
  ClientToServerEvents,
  COMMAND_ROLES,
  CommandResult,
  CommandType,
  LiveEvent,
  LiveMicrogrid,
  LiveState,
  Role,
  SCENARIO_ACTIONS,
  SERVER_EVENTS,
  SEVERITIES,
  ServerToClientEvents,
  Welcome,
} from './api.ts';
import type { commandSchema } from './commands.ts';
import type { CommandOutcome, LiveServerOptions } from './live-server.ts';

type ServerIo = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, ClientData>;
type Client = ClientSocket<ServerToClientEvents, ClientToServerEvents>;

describe('socket.io event maps', () => {
  it('server emits only declared events with their payloads', () => {
    const io = {} as ServerIo;
    expectTypeOf(io.emit).toBeCallableWith('state', {} as LiveState);
    expectTypeOf(io.emit).toBeCallableWith('events', [] as LiveEvent[]);
    // @ts-expect-error: not an event of the API
    io.emit('stat', {} as LiveState);
    // @ts-expect-error: events carries a batch, not one event
    io.emit('events', {} as LiveEvent);
  });

  it('clients send commands with an acknowledgement that receives a CommandResult', () => {
    const client = {} as Client;
    expectTypeOf(client.emitWithAck<'command'>)
      .parameter(1)
      .toEqualTypeOf<ApiCommand>();
    expectTypeOf(client.emitWithAck<'command'>).returns.toEqualTypeOf<Promise<CommandResult>>();
    client.emit('subscribe', { rate_hz: 20 });
    // @ts-expect-error: rate is a number of Hz
    client.emit('subscribe', { rate_hz: '20' });
    // @ts-expect-error: breaker needs its position
    client.emit('command', { type: 'breaker', id: 'pcc1' }, () => {});
    client.on('welcome', (w) => expectTypeOf(w).toEqualTypeOf<Welcome>());
  });
});

describe('names clients check against (the Node-RED package cannot import the types)', () => {
  it('event name lists are exactly the keys of the event maps', () => {
    expectTypeOf<(typeof SERVER_EVENTS)[number]>().toEqualTypeOf<keyof ServerToClientEvents>();
    expectTypeOf<(typeof CLIENT_EVENTS)[number]>().toEqualTypeOf<keyof ClientToServerEvents>();
  });

  it('severities and scenario actions are the ones events and commands carry', () => {
    expectTypeOf<(typeof SEVERITIES)[number]>().toEqualTypeOf<LiveEvent['severity']>();
    expectTypeOf<(typeof SCENARIO_ACTIONS)[number]>().toEqualTypeOf<
      Extract<ApiCommand, { type: 'scenario' }>['action']
    >();
  });
});

describe('commands', () => {
  it('the JSON Schema lists exactly the command types of ApiCommand', () => {
    type SchemaTypes = (typeof commandSchema)['oneOf'][number]['properties']['type']['const'];
    expectTypeOf<SchemaTypes>().toEqualTypeOf<CommandType>();
  });

  it('every command type has a least role, and roles are a closed set', () => {
    expectTypeOf<keyof typeof COMMAND_ROLES>().toEqualTypeOf<CommandType>();
    expectTypeOf<(typeof COMMAND_ROLES)[CommandType]>().toEqualTypeOf<Role>();
    expectTypeOf<Role>().toEqualTypeOf<'viewer' | 'operator' | 'admin' | 'prosumer'>();
  });

  it('twin-bound commands carry what the twin command needs', () => {
    type Breaker = Extract<ApiCommand, { type: 'breaker' }>;
    type TwinBreaker = Extract<TwinCommand, { kind: 'breaker' }>;
    expectTypeOf<Omit<Breaker, 'type'>>().toEqualTypeOf<Omit<TwinBreaker, 'kind'>>();
    type Fid = Extract<ApiCommand, { type: 'fid-setpoint' }>;
    expectTypeOf<Omit<Fid, 'type'>>().toEqualTypeOf<
      Omit<Extract<TwinCommand, { kind: 'fid-setpoint' }>, 'kind'>
    >();
  });

  it('a refused result always says why, an accepted one never does', () => {
    type Refused = Extract<CommandResult, { ok: false }>;
    expectTypeOf<Refused['reason']>().toEqualTypeOf<string>();
    expectTypeOf<Refused['code']>().toEqualTypeOf<
      'unauthenticated' | 'forbidden' | 'invalid' | 'rate-limited' | 'unavailable' | 'not-ready' | 'failed'
    >();
    expectTypeOf<Extract<CommandResult, { ok: true }>>().not.toHaveProperty('reason');
  });

  it('the composer supplies a command handler and an audit sink', () => {
    expectTypeOf<NonNullable<LiveServerOptions['onCommand']>>().returns.toEqualTypeOf<
      Promise<CommandOutcome>
    >();
    expectTypeOf<NonNullable<LiveServerOptions['onAudit']>>().parameter(0).toEqualTypeOf<AuditEntry>();
    expectTypeOf<AuditEntry['result']>().toEqualTypeOf<'ok' | 'rejected' | 'failed'>();
  });
});

describe('live state', () => {
  it("microgrids carry the twin's PCC power and islanded flag, and the recorded EMS mode names", () => {
    expectTypeOf<NonNullable<LiveState['microgrids']>>().toEqualTypeOf<Record<string, LiveMicrogrid>>();
    expectTypeOf<Omit<LiveMicrogrid, 'ems'>>().toEqualTypeOf<Omit<MicrogridState, 'ems'>>();
    expectTypeOf<LiveMicrogrid['ems']>().toEqualTypeOf<RecordedEmsMode>();
    const state = {} as LiveState;
    // @ts-expect-error: the PCC power is a number of MW
    state.microgrids = { MG1: { pcc_p_mw: '0.4', pcc_q_mvar: 0, ems: 'low-cost', islanded: false } };
    // @ts-expect-error: the twin's name is recorded and streamed as 'standby'
    state.microgrids = { MG1: { pcc_p_mw: 0.4, pcc_q_mvar: 0, ems: 'standby-power', islanded: false } };
  });

  it('switches are breaker positions by id', () => {
    expectTypeOf<LiveState['switches']>().toEqualTypeOf<Record<string, boolean> | undefined>();
  });
});

describe('prosumers', () => {
  it('prosumer tokens are not rotated by command; preferences are the VPP’s own type', () => {
    type Rotate = Extract<import('./api.ts').ApiCommand, { type: 'rotate-token' }>;
    expectTypeOf<Rotate['role']>().toEqualTypeOf<'viewer' | 'operator' | 'admin'>();
    expectTypeOf<import('./api.ts').ProsumerPreferences>().toEqualTypeOf<
      import('../../vpp/telemetry.ts').ProsumerPreferences
    >();
    expectTypeOf<Parameters<import('./api.ts').ServerToClientEvents['prosumer']>[0]>().toEqualTypeOf<
      import('./api.ts').ProsumerView
    >();
  });

  it('the market event is the market’s own view; a prosumer’s market part is its own type', () => {
    expectTypeOf<Parameters<import('./api.ts').ServerToClientEvents['market']>[0]>().toEqualTypeOf<
      import('../../market/telemetry.ts').MarketView
    >();
    expectTypeOf<import('./api.ts').ProsumerView['market']>().toEqualTypeOf<
      import('./api.ts').ProsumerMarketView | undefined
    >();
  });
});

describe('VPP view', () => {
  type View = import('./api.ts').VppLiveView;
  type Telemetry = import('../../vpp/telemetry.ts').VppTelemetry;
  type MemberTelemetry = import('../../vpp/telemetry.ts').VppMemberTelemetry;

  it('is derived from the VPP telemetry: a field changed there changes here', () => {
    expectTypeOf<View['price_per_mwh']>().toEqualTypeOf<Telemetry['price_per_mwh']>();
    expectTypeOf<View['flexibility']['stored_energy_mwh']>().toEqualTypeOf<
      Telemetry['flexibility']['stored_energy_mwh']
    >();
    expectTypeOf<View['members'][number]['setpoint_mw']>().toEqualTypeOf<MemberTelemetry['setpoint_mw']>();
  });

  it('keeps the wire format: exactly these fields', () => {
    expectTypeOf<View>().toEqualTypeOf<{
      vpp: string;
      t_s: number;
      target_mw: number;
      delivered_mw: number;
      price_per_mwh: number | null;
      ok: boolean;
      reason?: string;
      flexibility: {
        pmin_mw: number;
        pmax_mw: number;
        stored_energy_mwh: number;
        storage_room_mwh: number;
        members_online: number;
        members: number;
      };
      members: {
        id: string;
        prosumer?: string;
        hardware?: boolean;
        setpoint_mw: number | null;
        measured_mw: number;
        tracking_error_mw: number | null;
        opted_out?: boolean;
      }[];
    }>();
  });
});
