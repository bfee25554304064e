/**
 * Attack detectors in the real-time loop: an FDIA bias launched live through the API's command
 * path is caught by the χ² state-estimation detector within a bounded time, and a clean run of the
 * same length raises no alarm.
 *
 * False alarms cannot flake: the clean run's detector uses α = 0.001 with the 3-of-5 persistence
 * rule. The noise of each evaluation is fresh, so one evaluation's alarm probability is
 * Σ_{j≥3} C(5,j) αʲ(1−α)^(5−j) ≈ 1.0e-8, and over the run's ≤ 45 evaluations (4.5 s at one per
 * 100 ms) the union bound gives < 4.5e-7 < 1e-6.
 * Detection: a 0.08 pu bias on a voltage measurement with σ = 0.004 pu (20σ) moves J by about
 * (20)²·(1 − leverage) ≫ the χ² threshold, so every evaluation under attack fails and the alarm
 * rises at the third (≈ 0.3 s of twin time); the test allows 1.5 s.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { openPtyPair } from '../bench/devices/transport.ts';
import type { LoopToHost, Snapshot } from '../bench/runtime/messages.ts';
import { RealtimeRun } from '../bench/runtime/realtime-run.ts';
import { validateCommand } from '../bench/server/commands.ts';
import { liveEventOf, toTwinCommand } from '../bench/server/twin-bridge.ts';
import { startEmulatedBoard } from '../firmware-protocol/host/boards.ts';
import type { TwinCommand, TwinEvent } from '../twin/api.ts';
import type { DetectorSample } from '../twin/detection/alarms.ts';
import { budget } from './support/machine-speed.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const DEVICE = 'bess-hw';
const RUN_S = 4.5;
const ALPHA = 0.001;

async function liveRun(cleanups: (() => Promise<unknown>)[]) {
  const pair = await openPtyPair();
  cleanups.push(() => pair.stop());
  const board = await startEmulatedBoard('battery', { device: pair.b });
  cleanups.push(() => board.stop());
  const run = new RealtimeRun({
    twin: { grid: 'grids/demo-33bw-microgrids.yaml', seed: 1, dt_s: 0.001 },
    devices: [{ id: DEVICE, path: pair.a, bus: '18', rating_mva: 1, powerScale: 100, exchangeEvery: 10 }],
    snapshotEvery: 10,
    overrunPolicy: 'continue',
    duration_s: RUN_S,
    detectors: {
      estimation: { island: 'MG2', every_steps: 100, alpha: ALPHA, persistence: { k: 3, n: 5 } },
    },
  });
  cleanups.push(() => run.stop());
  const events: TwinEvent[] = [];
  const samples: DetectorSample[] = [];
  let latest: Snapshot | undefined;
  run.on('message', (m: LoopToHost) => {
    if (m.type !== 'batch') return;
    latest = m.snapshots.at(-1) ?? latest;
    events.push(...m.events);
    samples.push(...(m.detectorSamples ?? []));
  });
  await run.ready;
  return { run, events, samples, now: () => latest?.t_s ?? 0 };
}

describe('live detectors in the real-time loop', { timeout: budget(60_000) }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const undo of cleanups.splice(0).reverse()) await undo().catch(() => {});
  });

  it('a live FDIA bias on a voltage measurement raises a χ² alarm within 1.5 s; the alarm is a timeline alarm', async () => {
    const { run, events, samples, now } = await liveRun(cleanups);
    while (now() < 1.5) await sleep(20);
    const api = validateCommand({
      type: 'attack',
      action: 'start',
      id: 'fdia-v14',
      kind: 'bias',
      target: 'se.vm_pu.14',
      bias: 0.08,
      duration_s: 2,
    });
    expect(api.ok).toBe(true);
    if (!api.ok) return;
    const started = await run.command(toTwinCommand(api.command) as TwinCommand);
    expect(started).toMatchObject({ kind: 'attack-start', target: 'fdia-v14' });
    const end = await run.finished;
    expect(end.type).toBe('stopped');
    const alarms = events.filter((e) => e.kind === 'alarm');
    expect(alarms.length).toBeGreaterThanOrEqual(1);
    const first = alarms[0];
    expect(first.t_s).toBeGreaterThanOrEqual(started.t_s);
    expect(first.t_s - started.t_s).toBeLessThanOrEqual(1.5);
    expect(first.target).toBe('se.vm_pu.14');
    expect(first.data).toMatchObject({ detector: 'state-estimation' });
    expect(liveEventOf(first).severity).toBe('alarm');
    // Before the attack no evaluation alarmed; evaluations kept their 100 ms period.
    const before = samples.filter((s) => s.t_s < started.t_s);
    expect(before.length).toBeGreaterThanOrEqual(10);
    expect(before.some((s) => s.alarm)).toBe(false);
    expect(samples.length).toBeGreaterThanOrEqual(Math.floor(RUN_S / 0.1) - 1);
    for (const s of samples) expect(s.threshold).toBeGreaterThan(0);

    // The attack's events say what it is in data, not only in words (docs/socket-api.md).
    expect(started.data).toEqual({
      attack: 'fdia-v14',
      kind: 'bias',
      channel: 'se.vm_pu.14',
      from_s: started.t_s,
      duration_s: 2,
    });
    const stop = events.find((e) => e.kind === 'attack-stop');
    expect(stop?.data).toEqual({
      attack: 'fdia-v14',
      kind: 'bias',
      channel: 'se.vm_pu.14',
      from_s: started.t_s,
      to_s: stop?.t_s,
    });
    // Once the bias is gone the test passes again: 3 passing of the last 5 evaluations release the
    // 3-of-5 alarm (≈ 0.3 s), well before the run's end 2.5 s after the attack's.
    const cleared = events.filter((e) => e.kind === 'alarm-cleared');
    expect(cleared.length).toBeGreaterThanOrEqual(1);
    const last = cleared.at(-1)!;
    expect(last.t_s).toBeGreaterThan(stop!.t_s);
    expect(last.t_s - stop!.t_s).toBeLessThanOrEqual(1);
    expect(last.data).toMatchObject({ detector: 'state-estimation' });
    expect((last.data as { statistic: number; threshold: number }).statistic).toBeLessThanOrEqual(
      (last.data as { threshold: number }).threshold,
    );
    // Every alarm is followed by its clearing, in order: the page's alarm spans all end.
    const edges = events.filter((e) => e.kind === 'alarm' || e.kind === 'alarm-cleared').map((e) => e.kind);
    expect(edges.length % 2).toBe(0);
    expect(edges).toEqual(edges.map((_, i) => (i % 2 === 0 ? 'alarm' : 'alarm-cleared')));
    expect(liveEventOf(last).severity).toBe('info');
  });

  it('a clean run of the same length raises no alarm', async () => {
    const { run, events, samples } = await liveRun(cleanups);
    const end = await run.finished;
    expect(end.type).toBe('stopped');
    expect(samples.length).toBeGreaterThanOrEqual(Math.floor(RUN_S / 0.1) - 1);
    expect(samples.length).toBeLessThanOrEqual(Math.ceil(RUN_S / 0.1));
    expect(events.filter((e) => e.kind === 'alarm')).toEqual([]);
    expect(samples.some((s) => s.alarm)).toBe(false);
  });

  it('a detector that cannot be built is reported as a detector-failed event; the run goes on', async () => {
    const run = new RealtimeRun({
      twin: { grid: 'grids/demo-33bw-microgrids.yaml', seed: 1, dt_s: 0.001 },
      devices: [{ id: DEVICE, driver: 'simulated' }],
      snapshotEvery: 10,
      overrunPolicy: 'continue',
      duration_s: 0.5,
      detectors: { estimation: { island: 'NOPE' } },
    });
    cleanups.push(() => run.stop());
    const events: TwinEvent[] = [];
    let samples = 0;
    run.on('message', (m: LoopToHost) => {
      if (m.type !== 'batch') return;
      events.push(...m.events);
      samples += m.detectorSamples?.length ?? 0;
    });
    const end = await run.finished;
    expect(end).toMatchObject({ type: 'stopped', reason: 'duration' });
    const failed = events.filter((e) => e.kind === 'detector-failed');
    expect(failed).toHaveLength(1);
    expect(failed[0].message).toMatch(/island 'NOPE' has fewer than 2 buses/);
    expect(liveEventOf(failed[0]).severity).toBe('alarm');
    expect(samples).toBe(0);
  });
});
