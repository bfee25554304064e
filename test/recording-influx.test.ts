/**
 * The recorder against real servers on loopback: Debian's InfluxDB 1.x through the v1 write path
 * (read back with InfluxQL) and VictoriaMetrics through the v2 write API of
 * @influxdata/influxdb-client (read back through its export API). Round trip, then outages.
 */

import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxSink, type Point, RunRecorder, readRunPoints } from '../bench/recording/index.ts';
import type { Snapshot } from '../bench/runtime/messages.ts';
import { snapshotToPoints } from '../bench/runtime/snapshot-points.ts';
import {
  type Influxdb1Server,
  startInfluxdb1,
  startVictoriaMetrics,
  type VictoriaMetricsServer,
} from './servers/index.ts';
import { budget } from './support/machine-speed.ts';

const DB = 'gridloop';
let influx: Influxdb1Server;
let vm: VictoriaMetricsServer;
const tempDirs: string[] = [];

beforeAll(async () => {
  [influx, vm] = await Promise.all([startInfluxdb1(), startVictoriaMetrics()]);
  await influx.createDatabase(DB);
});
afterAll(async () => {
  await Promise.all([influx?.dispose(), vm?.dispose()]);
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

async function runsDir() {
  const dir = await mkdtemp(join(tmpdir(), 'gridloop-influx-'));
  tempDirs.push(dir);
  return dir;
}

const BUS_IDS = ['1', '2', '3'];
/** A deterministic run: closed-form signals, 1 ms apart (VictoriaMetrics keeps milliseconds). */
function snapshotAt(step: number): Snapshot {
  const t = step * 0.001;
  return {
    t_s: t,
    step,
    islands: [
      {
        id: 'main',
        f_hz: 50 + 0.1 * Math.sin(2 * Math.PI * t),
        rocof_hz_s: 0.2 * Math.PI * Math.cos(2 * Math.PI * t),
        energised: true,
        gridConnected: step % 500 < 250,
      },
    ],
    vm_pu: BUS_IDS.map((_, i) => 1 - 0.01 * i - 0.001 * Math.sin(t)),
    va_deg: BUS_IDS.map((_, i) => -i * 1.5),
    devices: { 'bess-hw': { p_mw: 0.5 * Math.cos(t), q_mvar: 0.1, soc: 0.8 - t / 1000, online: true } },
    loop: { lateness_us: step % 37, work_us: 100 + (step % 11), overruns: 0 },
  };
}

function record(rec: RunRecorder, from: number, to: number) {
  for (let step = from; step < to; step++) {
    snapshotToPoints(snapshotAt(step), BUS_IDS, rec.start_ns, (m, tags, fields, t) =>
      rec.point(m, tags, fields, t),
    );
  }
}

const numericFields = (p: Point) =>
  Object.entries(p.fields).filter(([, v]) => typeof v === 'number' || typeof v === 'boolean');

async function influxPoints(run: string, measurement: string) {
  const series = await influx.query(`SELECT * FROM "${measurement}" WHERE "run" = '${run}'`, DB);
  return series.flatMap((s) =>
    s.values.map(
      (row) => Object.fromEntries(s.columns.map((c, i) => [c, row[i]])) as Record<string, unknown>,
    ),
  );
}

/**
 * Every sample of the run in VictoriaMetrics, keyed `series@ms`. VictoriaMetrics makes freshly
 * ingested rows searchable a little later (even after force_flush), and on a loaded machine part of
 * a series can show before the rest, so this polls until every expected sample reads back as
 * written or 30 s (scaled by the machine's slowness) have passed; the caller then names what differs.
 */
async function vmSamples(run: string, expected: Map<string, number>) {
  const deadline = Date.now() + budget(30_000);
  for (;;) {
    const samples = await vmSamplesNow(run);
    if (vmMismatches(expected, samples).length === 0 || Date.now() > deadline) return samples;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function vmSamplesNow(run: string) {
  await vm.forceFlush();
  const samples = new Map<string, number>();
  for (const s of await vm.exportSeries(`{run="${run}"}`)) {
    const { __name__, run: _run, db: _db, ...tags } = s.metric;
    const key = `${__name__}${JSON.stringify(Object.entries(tags).sort())}`;
    for (let i = 0; i < s.timestamps.length; i++) samples.set(`${key}@${s.timestamps[i]}`, s.values[i]);
  }
  return samples;
}

function expectedVmSamples(points: Point[], start_ns: bigint) {
  const samples = new Map<string, number>();
  for (const p of points) {
    if (!['island', 'bus', 'device', 'loop'].includes(p.measurement)) continue;
    const { run: _run, ...tags } = p.tags;
    for (const [field, value] of numericFields(p)) {
      const key = `${p.measurement}_${field}${JSON.stringify(Object.entries(tags).sort())}`;
      samples.set(
        `${key}@${(p.time_ns / 1_000_000n).toString()}`,
        typeof value === 'boolean' ? Number(value) : (value as number),
      );
    }
  }
  expect(start_ns).toBeGreaterThan(0n);
  return samples;
}

function vmMismatches(expected: Map<string, number>, actual: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [key, value] of expected) {
    const got = actual.get(key);
    if (got === undefined || Math.abs(got - value) > Math.max(Math.abs(value) * 1e-11, 1e-15)) {
      if (out.length < 5) out.push(`${key}: ${got} != ${value}`);
      else out[5] = `… ${Number(out[5]?.split(' ')[1] ?? 5) + 1} in all`;
    }
  }
  return out;
}

describe('recorder → real InfluxDB 1.x (v1 write) and VictoriaMetrics (v2 write API)', () => {
  it('round trip: file, InfluxDB and VictoriaMetrics hold the same points and values', {
    timeout: budget(60_000),
  }, async () => {
    const rec = await RunRecorder.open({
      runsDir: await runsDir(),
      scenario: 'roundtrip',
      sinks: [
        new InfluxSink({ name: 'influx1', target: { api: 'v1', url: influx.url, database: DB } }),
        new InfluxSink({ name: 'vm', target: { api: 'v2', url: vm.url, org: 'lab', bucket: DB } }),
      ],
    });
    record(rec, 0, 3000);
    const manifest = await rec.close({ status: 'complete' });
    expect(manifest.status).toBe('complete');

    const filePoints = await readRunPoints(rec.dir);
    const fileIsland = filePoints.filter((p) => p.measurement === 'island');
    expect(fileIsland).toHaveLength(3000);
    expect(filePoints.filter((p) => p.measurement === 'bus')).toHaveLength(9000);

    // InfluxDB 1.x: every point of every measurement, values compared field by field.
    for (const measurement of ['island', 'bus', 'device', 'loop']) {
      const fromFile = filePoints.filter((p) => p.measurement === measurement);
      const rows = await influxPoints(rec.id, measurement);
      expect(rows.length, measurement).toBe(fromFile.length);
      const byKey = new Map(
        rows.map((r) => [`${r.time}|${r.bus ?? ''}|${r.island ?? ''}|${r.device ?? ''}`, r]),
      );
      const mismatches: string[] = [];
      for (const p of fromFile) {
        const row = byKey.get(
          `${p.time_ns}|${p.tags.bus ?? ''}|${p.tags.island ?? ''}|${p.tags.device ?? ''}`,
        );
        for (const [field, value] of Object.entries(p.fields)) {
          if (row?.[field] !== value && mismatches.length < 5) {
            mismatches.push(`${measurement}.${field}@${p.time_ns}: ${row?.[field]} != ${value}`);
          }
        }
      }
      expect(mismatches).toEqual([]);
    }
    const events = await influxPoints(rec.id, 'event');
    expect(events.map((e) => e.kind)).toEqual(['run-start', 'run-end']);

    // VictoriaMetrics: numeric fields (booleans as 0/1) at millisecond resolution.
    const expected = expectedVmSamples(filePoints, rec.start_ns);
    const actual = await vmSamples(rec.id, expected);
    expect(expected.size).toBe(3000 * 4 + 9000 * 2 + 3000 * 4 + 3000 * 3);
    // VictoriaMetrics keeps about 12 significant digits (it stores decimal mantissas).
    expect(vmMismatches(expected, actual)).toEqual([]);

    expect(manifest.sinks?.map((s) => [s.name, s.sent_points, s.spooled_points])).toEqual([
      ['influx1', manifest.counts!.points, 0],
      ['vm', manifest.counts!.points, 0],
    ]);
  });

  it("points.lp.gz imports as-is with InfluxDB's own CLI (influx -import -compressed)", async () => {
    const rec = await RunRecorder.open({
      runsDir: await runsDir(),
      scenario: 'import',
      importDatabase: 'imported',
    });
    record(rec, 0, 500);
    rec.event({ kind: 'note', message: 'with "quotes", commas, and = signs', source: 'operator' });
    await rec.close();
    await influx.createDatabase('imported');
    const output = await new Promise<string>((resolve, reject) =>
      execFile(
        'influx',
        [
          '-host',
          '127.0.0.1',
          '-port',
          String(influx.port),
          '-import',
          '-path',
          join(rec.dir, 'points.lp.gz'),
          '-compressed',
          '-precision',
          'ns',
        ],
        (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stdout}${stderr}`)) : resolve(stdout + stderr),
      ),
    );
    const filePoints = await readRunPoints(rec.dir);
    expect(output).toContain(`Processed ${filePoints.length} inserts`);
    expect(output).toContain('Failed 0 inserts');
    for (const measurement of ['island', 'bus', 'device', 'loop', 'event']) {
      const series = await influx.query(
        `SELECT count(*) FROM "${measurement}" WHERE "run" = '${rec.id}'`,
        'imported',
      );
      const counted = Math.max(...((series[0]?.values[0] ?? [0, 0]).slice(1) as number[]));
      expect(counted, measurement).toBe(filePoints.filter((p) => p.measurement === measurement).length);
    }
    const [note] = await influx.query(`SELECT "message" FROM "event" WHERE "kind" = 'note'`, 'imported');
    expect(note.values[0][1]).toBe('with "quotes", commas, and = signs');
  });

  for (const which of ['influxdb 1.x', 'victoria-metrics'] as const) {
    it(`outage: ${which} killed mid-run and restarted; every point arrives (spool + back-fill)`, {
      timeout: budget(60_000),
    }, async () => {
      const server = which === 'influxdb 1.x' ? influx : vm;
      const sink =
        which === 'influxdb 1.x'
          ? new InfluxSink({
              name: 'srv',
              target: { api: 'v1', url: influx.url, database: DB },
              retryInterval_ms: 100,
              batchLines: 2000,
            })
          : new InfluxSink({
              name: 'srv',
              target: { api: 'v2', url: vm.url, org: 'lab', bucket: DB },
              retryInterval_ms: 100,
              batchLines: 2000,
            });
      const rec = await RunRecorder.open({
        runsDir: await runsDir(),
        scenario: 'outage',
        sinks: [sink],
        flushInterval_ms: 50,
      });
      const pace = () => new Promise((r) => setTimeout(r, 20));
      let step = 0;
      const recordFor = async (ms: number) => {
        const until = Date.now() + ms;
        while (Date.now() < until) {
          record(rec, step, step + 20);
          step += 20;
          await pace();
        }
      };
      await recordFor(500);
      // InfluxDB writes its WAL before answering, so SIGKILL loses nothing it acknowledged.
      // VictoriaMetrics acknowledges rows it still holds in memory for up to a second (its
      // documented behaviour on unclean shutdown), so it is stopped with SIGTERM instead: the
      // outage the sink sees is the same, refused connections until the restart.
      if (which === 'influxdb 1.x') await server.kill();
      else await server.stop();
      await recordFor(1000);
      // Keep recording until the sink has noticed (a loaded machine may take longer than 1 s).
      for (let i = 0; i < 50 && (sink.stats().state !== 'down' || sink.stats().spool_files === 0); i++) {
        await recordFor(100);
      }
      const during = sink.stats();
      expect(during.state, JSON.stringify(during)).toBe('down');
      expect(during.spooled_points as number).toBeGreaterThan(0);
      expect((await readdir(join(rec.dir, 'spool', 'srv'))).length, JSON.stringify(during)).toBeGreaterThan(
        0,
      );
      await server.restart();
      await recordFor(500);
      const manifest = await rec.close({ status: 'complete' });
      const stats = manifest.sinks![0];
      expect(stats.backfilled_points, JSON.stringify(stats)).toBe(stats.spooled_points);
      expect(stats.backlog_points, JSON.stringify(stats)).toBe(0);
      expect(stats.refused_points).toBe(0);
      expect((stats.sent_points as number) + (stats.backfilled_points as number)).toBe(
        manifest.counts!.points,
      );
      expect(await readdir(join(rec.dir, 'spool', 'srv'))).toEqual([]);

      const filePoints = await readRunPoints(rec.dir);
      const fileIsland = filePoints.filter((p) => p.measurement === 'island');
      expect(fileIsland).toHaveLength(step);
      if (which === 'influxdb 1.x') {
        for (const measurement of ['island', 'bus', 'device', 'loop']) {
          const rows = await influxPoints(rec.id, measurement);
          expect(rows.length, measurement).toBe(
            filePoints.filter((p) => p.measurement === measurement).length,
          );
        }
      } else {
        const expected = expectedVmSamples(filePoints, rec.start_ns);
        const actual = await vmSamples(rec.id, expected);
        expect(vmMismatches(expected, actual)).toEqual([]);
      }
      const events = filePoints.filter((p) => p.measurement === 'event').map((p) => p.tags.kind);
      expect(events, JSON.stringify(stats)).toContain('sink-down');
      expect(events).toContain('sink-up');
    });
  }
});
