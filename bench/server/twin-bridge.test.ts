import { describe, expect, it } from 'vitest';
import type { Snapshot } from '../runtime/messages.ts';
import type { GridTopology } from './api.ts';
import { LiveStateBuilder, liveEventOf, toTwinCommand } from './twin-bridge.ts';

const topology: GridTopology = {
  name: 't',
  frequency_hz: 50,
  layout: 'auto',
  buses: ['1', '2', '3'].map((id, i) => ({ id, x: i, y: 0, baseKV: 12.66 })),
  lines: [
    { id: 'L1-2', from: '1', to: '2', kind: 'line', inService: true },
    { id: 'L2-3', from: '2', to: '3', kind: 'line', inService: false, breaker: true },
  ],
  switches: [{ id: 'pcc', kind: 'breaker', from: '1', to: '2', closed: true }],
  ders: [{ id: 'pv', bus: '2', technology: 'pv', rating_mva: 1 }],
  loads: [],
  fids: [{ id: 'fid', busA: '2', busB: '3', rating_mva: 1 }],
  microgrids: [{ id: 'MG', pccSwitch: 'pcc' }],
};

const snapshot = (extra: Partial<Snapshot> = {}): Snapshot => ({
  t_s: 1,
  step: 1000,
  islands: [
    { id: 'a', f_hz: 50, rocof_hz_s: 0, energised: true, gridConnected: true },
    { id: 'b', f_hz: 49.8, rocof_hz_s: -0.1, energised: true, gridConnected: false },
  ],
  // The twin's bus order differs from the topology's on purpose.
  vm_pu: [0.97, 1, 0.98],
  va_deg: [0, 0, 0],
  devices: { pv: { p_mw: 0.3, q_mvar: 0, online: true }, fid: { p_mw: -0.05, q_mvar: 0, online: true } },
  loop: { lateness_us: 1, work_us: 2, overruns: 0 },
  ...extra,
});

describe('LiveStateBuilder', () => {
  it('reorders voltages to the topology, splits FIDs from devices, and attaches island buses', () => {
    const builder = new LiveStateBuilder(topology);
    const first = snapshot({ busIds: ['3', '1', '2'], islandBuses: [['1', '2'], ['3']] });
    builder.absorb(first);
    const later = snapshot();
    builder.absorb(later);
    const state = builder.build(later);
    expect(state.vm_pu).toEqual([1, 0.98, 0.97]);
    expect(state.devices).toEqual({ pv: { p_mw: 0.3, q_mvar: 0, online: true } });
    expect(state.fids).toEqual({ fid: { p_mw: -0.05 } });
    expect(state.islands.map((i) => i.buses)).toEqual([['1', '2'], ['3']]);
    expect(state.switches).toEqual({ pcc: true, 'L2-3': false });
  });

  it('rounds what it streams far below what a page shows, to keep states small', () => {
    const builder = new LiveStateBuilder(topology);
    const s = snapshot({
      busIds: ['1', '2', '3'],
      vm_pu: [0.971234567891, 1, 0.98],
      devices: { pv: { p_mw: 0.123456789, q_mvar: -0.0000012, online: true, soc: 0.612345 } },
    });
    s.islands[1].f_hz = 49.87654321;
    builder.absorb(s);
    const state = builder.build(s);
    expect(state.vm_pu![0]).toBe(0.97123);
    expect(state.devices.pv).toEqual({ p_mw: 0.12346, q_mvar: -0, online: true, soc: 0.6123 });
    expect(state.islands[1].f_hz).toBe(49.87654);
  });

  it('follows breaker positions from twin events, and shows apart what the islands say is apart', () => {
    const builder = new LiveStateBuilder(topology);
    builder.absorb(snapshot({ busIds: ['1', '2', '3'], islandBuses: [['1', '2', '3']] }));
    builder.observe({ t_s: 1, kind: 'breaker', message: 'L2-3 closed', target: 'L2-3' });
    expect(builder.build(snapshot()).switches).toEqual({ pcc: true, 'L2-3': true });
    builder.observe({ t_s: 2, kind: 'islanded', message: 'MG islanded (planned)', target: 'MG' });
    expect(builder.build(snapshot()).switches!.pcc).toBe(false);
    builder.observe({ t_s: 3, kind: 'reconnected', message: 'MG reconnected', target: 'MG' });
    expect(builder.build(snapshot()).switches!.pcc).toBe(true);
    // A protection trip elsewhere splits 1 from 2: the pcc between them cannot be closed.
    builder.absorb(snapshot({ islandBuses: [['1'], ['2', '3']] }));
    expect(builder.build(snapshot()).switches!.pcc).toBe(false);
  });
});

describe('commands and events', () => {
  it('maps API commands onto twin commands, and leaves scenario and key commands out', () => {
    expect(toTwinCommand({ type: 'breaker', id: 'pcc', closed: false })).toEqual({
      kind: 'breaker',
      id: 'pcc',
      closed: false,
    });
    expect(toTwinCommand({ type: 'island', islanded: true })).toEqual({ kind: 'island', islanded: true });
    expect(toTwinCommand({ type: 'setpoint', deviceId: 'pv', q_mvar: 0.1 })).toEqual({
      kind: 'setpoint',
      deviceId: 'pv',
      q_mvar: 0.1,
    });
    expect(toTwinCommand({ type: 'fid-setpoint', fidId: 'fid', p_mw: 0.2 })).toEqual({
      kind: 'fid-setpoint',
      fidId: 'fid',
      p_mw: 0.2,
    });
    expect(toTwinCommand({ type: 'emergency-stop' })).toEqual({ kind: 'emergency-stop' });
    expect(toTwinCommand({ type: 'scenario', action: 'start' })).toBeUndefined();
    expect(toTwinCommand({ type: 'rotate-token', role: 'viewer' })).toBeUndefined();
  });

  it('ranks twin events for the timeline', () => {
    const rank = (kind: string) => liveEventOf({ t_s: 0, kind, message: '' }).severity;
    expect(['der-trip', 'ufls', 'overcurrent-trip', 'emergency-stop'].map(rank)).toEqual([
      'alarm',
      'alarm',
      'alarm',
      'alarm',
    ]);
    expect(['islanded', 'reconnected'].map(rank)).toEqual(['warning', 'warning']);
    expect(rank('setpoint')).toBe('info');
  });
});
