import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadGridFile } from '../../twin/files.ts';
import { Twin } from '../../twin/twin.ts';
import type { LinkStats, Snapshot } from './messages.ts';
import {
  copySnapshotOfState,
  linkStatsToPoints,
  type PointSink,
  plannedIslands,
  snapshotOfState,
  snapshotToPoints,
  updateBusIslands,
} from './snapshot-points.ts';

type Point = {
  m: string;
  tags: Readonly<Record<string, string | undefined>>;
  fields: Readonly<Record<string, unknown>>;
  t: bigint;
};

function collect(fn: (sink: PointSink) => void) {
  const points: Point[] = [];
  fn((m, tags, fields, t) => points.push({ m, tags, fields, t }));
  return points;
}

const snapshot: Snapshot = {
  t_s: 1.5,
  step: 1500,
  islands: [
    { id: 'MG1', f_hz: 50, rocof_hz_s: 0, energised: true, gridConnected: true },
    { id: 'MG2', f_hz: 49.9, rocof_hz_s: -0.1, energised: true, gridConnected: false },
  ],
  islandBuses: [['1', '2'], ['3']],
  vm_pu: [1, 0.99, 0.97],
  va_deg: [0, -1, -2],
  devices: { pv1: { p_mw: 0.2, q_mvar: 0, online: true }, fid1: { p_mw: 0.1, q_mvar: 0, online: true } },
  fids: { fid1: { p_a_mw: -0.1, p_b_mw: 0.098, loss_mw: 0.002 } },
  loop: { lateness_us: 3, work_us: 40, overruns: 0 },
};

describe('snapshot points', () => {
  it('tags buses with their island and devices with their microgrid, and writes FID flows', () => {
    const busIsland = new Map<string, string>();
    updateBusIslands(snapshot.islands, snapshot.islandBuses, busIsland);
    const points = collect((sink) =>
      snapshotToPoints(snapshot, ['1', '2', '3'], 1_000_000_000n, sink, {
        busIsland,
        deviceMicrogrid: new Map([['pv1', 'MG2']]),
      }),
    );
    const t = 1_000_000_000n + 1_500_000_000n;
    expect(points.every((p) => p.t === t)).toBe(true);
    expect(points.filter((p) => p.m === 'bus').map((p) => p.tags)).toEqual([
      { bus: '1', island: 'MG1' },
      { bus: '2', island: 'MG1' },
      { bus: '3', island: 'MG2' },
    ]);
    expect(points.find((p) => p.m === 'device' && p.tags.device === 'pv1')?.tags.microgrid).toBe('MG2');
    expect(points.find((p) => p.m === 'device' && p.tags.device === 'fid1')?.tags.microgrid).toBeUndefined();
    const fid = points.find((p) => p.m === 'fid');
    expect(fid?.tags).toEqual({ fid: 'fid1' });
    expect(fid?.fields).toEqual({ p_a_mw: -0.1, p_b_mw: 0.098, loss_mw: 0.002 });
  });

  it('leaves bus points out when asked, and keeps the previous island map when the loop sent none', () => {
    const busIsland = new Map([['1', 'MG1']]);
    updateBusIslands(snapshot.islands, undefined, busIsland);
    expect(busIsland.get('1')).toBe('MG1');
    const points = collect((sink) =>
      snapshotToPoints(snapshot, ['1', '2', '3'], 0n, sink, { includeBuses: false }),
    );
    expect(points.some((p) => p.m === 'bus')).toBe(false);
  });

  it('writes link counters as integers and the state as a string, with no RTT before the first answer', () => {
    const link = {
      deviceId: 'bess-hw',
      online: false,
      rtt_us_p50: Number.NaN,
      crcErrors: 2,
      dropped: 1,
      late: 0,
    } as LinkStats;
    const [point] = collect((sink) => linkStatsToPoints([link], 5n, sink));
    expect(point).toEqual({
      m: 'link',
      tags: { device: 'bess-hw' },
      fields: { crc_errors: 2n, dropped: 1n, late: 0n, state: 'offline' },
      t: 5n,
    });
  });

  it('writes pcc and ems points per microgrid at every sample, with the recorded mode names', () => {
    const withMicrogrids: Snapshot = {
      ...snapshot,
      microgrids: {
        MG1: { pcc_p_mw: 0.42, pcc_q_mvar: -0.05, ems: 'standby-power', islanded: false },
        MG2: { pcc_p_mw: 0, pcc_q_mvar: 0, ems: 'peak-shaving', islanded: true },
      },
    };
    const points = collect((sink) => snapshotToPoints(withMicrogrids, ['1', '2', '3'], 0n, sink));
    const t = 1_500_000_000n;
    expect(points.filter((p) => p.m === 'pcc')).toEqual([
      { m: 'pcc', tags: { microgrid: 'MG1' }, fields: { p_mw: 0.42, q_mvar: -0.05 }, t },
      { m: 'pcc', tags: { microgrid: 'MG2' }, fields: { p_mw: 0, q_mvar: 0 }, t },
    ]);
    expect(points.filter((p) => p.m === 'ems')).toEqual([
      { m: 'ems', tags: { microgrid: 'MG1' }, fields: { mode: 'standby' }, t },
      { m: 'ems', tags: { microgrid: 'MG2' }, fields: { mode: 'peak-shaving' }, t },
    ]);
    // A snapshot from a twin without microgrids writes neither.
    const none = collect((sink) => snapshotToPoints(snapshot, ['1', '2', '3'], 0n, sink));
    expect(none.some((p) => p.m === 'pcc' || p.m === 'ems')).toBe(false);
  });

  it("records each island's connection: MG2 and MG3 of the demo islanded by design, MG1 islanded when cut off", async () => {
    const grid = join(process.cwd(), 'grids/demo-33bw-microgrids.yaml');
    const twin = await Twin.fromFiles({ grid, dt_s: 0.01 });
    const planned = plannedIslands((await loadGridFile(grid)).grid);
    expect([...planned].sort()).toEqual(['MG2', 'MG3']);
    const loop = { lateness_us: 0, work_us: 0, overruns: 0 };
    const connections = () =>
      Object.fromEntries(
        collect((sink) =>
          snapshotToPoints(snapshotOfState(twin.state, loop), twin.state.busIds, 0n, sink, {
            plannedIslands: planned,
          }),
        )
          .filter((p) => p.m === 'island')
          .map((p) => [p.tags.island, p.fields.connection]),
      );
    twin.step([]);
    expect(connections()).toEqual({
      MG1: 'grid-connected',
      MG2: 'islanded-by-design',
      MG3: 'islanded-by-design',
    });
    twin.command({ kind: 'breaker', id: 'pcc-mg1', closed: false });
    twin.step([]);
    twin.step([]);
    expect(connections().MG1).toBe('islanded');
  });

  it('carries PCC power, EMS mode and breaker positions from the twin, copied so they outlive the step', async () => {
    const twin = await Twin.fromFiles({
      grid: join(process.cwd(), 'grids/demo-33bw-microgrids.yaml'),
      dt_s: 0.01,
    });
    const state = twin.step([]);
    const loop = { lateness_us: 0, work_us: 0, overruns: 0 };
    const view = snapshotOfState(state, loop);
    expect(view.microgrids).toBe(state.microgrids);
    expect(view.breakers).toBe(state.breakers);
    const copy = copySnapshotOfState(state, loop);
    expect(copy.microgrids).toEqual(state.microgrids);
    expect(copy.breakers).toEqual(state.breakers);
    expect(copy.microgrids!.MG1.pcc_p_mw).toBeGreaterThan(0.1);
    expect(copy.breakers!['pcc-mg1']).toBe(true);
    const before = structuredClone(copy);
    twin.command({ kind: 'breaker', id: 'pcc-mg1', closed: false });
    twin.step([]);
    twin.step([]);
    expect(state.breakers!['pcc-mg1']).toBe(false);
    expect(state.microgrids!.MG1.islanded).toBe(true);
    expect(copy).toEqual(before);
    const points = collect((sink) => snapshotToPoints(view, state.busIds, 0n, sink));
    expect(points.find((p) => p.m === 'pcc' && p.tags.microgrid === 'MG1')?.fields).toEqual({
      p_mw: 0,
      q_mvar: 0,
    });
  });
});
