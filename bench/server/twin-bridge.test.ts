import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadGridFile } from '../../twin/files.ts';
import { Twin } from '../../twin/twin.ts';
import type { Snapshot } from '../runtime/messages.ts';
import { copySnapshotOfState } from '../runtime/snapshot-points.ts';
import type { GridTopology } from './api.ts';
import { topologyFromGrid } from './topology.ts';
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

  it("streams each live detector's latest statistic and threshold, and none when the run has no detector", () => {
    const builder = new LiveStateBuilder(topology);
    expect(builder.build(snapshot()).detectors).toBeUndefined();
    builder.absorbDetectorSamples([
      { t_s: 0.1, detector: 'state-estimation', statistic: 11.23456, threshold: 27.877, alarm: false },
      { t_s: 0.2, detector: 'state-estimation', statistic: 412.0004, threshold: 27.877, alarm: true },
      // A non-converged estimate has no statistic to draw: the last drawable one stays.
      { t_s: 0.3, detector: 'state-estimation', statistic: Number.NaN, threshold: 27.877, alarm: true },
    ]);
    expect(builder.build(snapshot()).detectors).toEqual({
      'state-estimation': { t_s: 0.2, statistic: 412, threshold: 27.877, alarm: true },
    });
  });

  it('streams the breaker positions the twin reports, only for the breakers the page draws', () => {
    const builder = new LiveStateBuilder(topology);
    builder.absorb(snapshot({ busIds: ['1', '2', '3'], islandBuses: [['1', '2', '3']] }));
    const breakers = { pcc: false, 'L1-2': true, 'L2-3': true };
    expect(builder.build(snapshot({ breakers })).switches).toEqual({ pcc: false, 'L2-3': true });
    // No positions from the twin: none claimed.
    expect(builder.build(snapshot()).switches).toBeUndefined();
  });

  it('streams PCC power, EMS mode and islanded per microgrid, with the recorded mode names', () => {
    const builder = new LiveStateBuilder(topology);
    const s = snapshot({
      microgrids: {
        MG: { pcc_p_mw: 0.123456789, pcc_q_mvar: -0.0400004, ems: 'standby-power', islanded: false },
      },
    });
    builder.absorb(s);
    expect(builder.build(s).microgrids).toEqual({
      MG: { pcc_p_mw: 0.12346, pcc_q_mvar: -0.04, ems: 'standby', islanded: false },
    });
    expect(builder.build(snapshot()).microgrids).toBeUndefined();
  });

  it('follows a real twin: opening the PCC shows in switches, islanded and PCC power', async () => {
    const grid = await loadGridFile(join(process.cwd(), 'grids/demo-33bw-microgrids.yaml'));
    const twin = new Twin(grid.grid, { dt_s: 0.01, config: grid.config });
    const builder = new LiveStateBuilder(topologyFromGrid(grid.grid));
    const loop = { lateness_us: 0, work_us: 0, overruns: 0 };
    const closed = builder.build(copySnapshotOfState(twin.step([]), loop));
    expect(closed.switches!['pcc-mg1']).toBe(true);
    expect(closed.microgrids!.MG1).toMatchObject({ ems: 'peak-shaving', islanded: false });
    expect(closed.microgrids!.MG1.pcc_p_mw).toBeGreaterThan(0.1);
    twin.command({ kind: 'breaker', id: 'pcc-mg1', closed: false });
    twin.step([]);
    const open = builder.build(copySnapshotOfState(twin.step([]), loop));
    expect(open.switches!['pcc-mg1']).toBe(false);
    expect(open.microgrids!.MG1).toMatchObject({ pcc_p_mw: 0, pcc_q_mvar: 0, islanded: true });
    expect(Object.keys(open.switches!).sort()).toEqual(
      [
        'pcc-mg1',
        ...topologyFromGrid(grid.grid)
          .lines.filter((l) => l.breaker)
          .map((l) => l.id),
      ].sort(),
    );
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
    expect(toTwinCommand({ type: 'fid-setpoint', fidId: 'fid', p_mw: 0.2, ramp_s: 30 })).toEqual({
      kind: 'fid-setpoint',
      fidId: 'fid',
      p_mw: 0.2,
      ramp_s: 30,
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
    // Live detectors' alarms (bench/attacks/live-detectors.ts) and a detector that stopped.
    expect(['alarm', 'detector-failed'].map(rank)).toEqual(['alarm', 'alarm']);
    const verdict = (passed: boolean) =>
      liveEventOf({ t_s: 0, kind: 'scenario-verdict', message: '', data: { passed } }).severity;
    expect([verdict(true), verdict(false)]).toEqual(['info', 'alarm']);
  });
});
