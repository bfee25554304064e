/**
 * Commands through the real-time loop to a real (emulated C) board over a socat pty: a set-point
 * limited before it is sent, the emergency stop, and the 'simulated' fallback taking over while
 * the board is gone.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSunSpecSlave } from '../bench/devices/sunspec-emulator.ts';
import { openPtyPair } from '../bench/devices/transport.ts';
import type { LinkStats, LoopToHost, Snapshot } from '../bench/runtime/messages.ts';
import { LoopNotReadyError, RealtimeRun } from '../bench/runtime/realtime-run.ts';
import { type EmulatedBoard, startEmulatedBoard } from '../firmware-protocol/host/boards.ts';
import type { TwinEvent } from '../twin/api.ts';
import { budget, waitFor } from './support/machine-speed.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const DEVICE = 'bess-hw';

describe('loop commands and fallback with an emulated board', { timeout: budget(90_000) }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const undo of cleanups.splice(0).reverse()) await undo().catch(() => {});
  });

  it('limits a set-point before sending it, e-stops the board, and falls back to the simulated model', async () => {
    const pair = await openPtyPair();
    cleanups.push(() => pair.stop());
    let board: EmulatedBoard = await startEmulatedBoard('battery', { device: pair.b });
    cleanups.push(() => board.stop());
    const run = new RealtimeRun({
      twin: { grid: 'grids/demo-33bw-microgrids.yaml', seed: 1, dt_s: 0.001 },
      devices: [
        {
          id: DEVICE,
          path: pair.a,
          bus: '18',
          rating_mva: 1,
          powerScale: 100,
          exchangeEvery: 10,
          limits: { pMax_w: 2000 },
          fallback: 'simulated',
          simulated: { rating_w: 5000 },
        },
      ],
      snapshotEvery: 10,
      overrunPolicy: 'continue',
    });
    cleanups.push(() => run.stop());
    let latest: Snapshot | undefined;
    let links: LinkStats[] = [];
    const events: TwinEvent[] = [];
    run.on('message', (m: LoopToHost) => {
      if (m.type !== 'batch') return;
      latest = m.snapshots.at(-1) ?? latest;
      links = m.links;
      events.push(...m.events);
    });
    await run.ready;
    await waitFor('board online', () => links[0]?.online === true);

    // 0.5 MW in the twin = 5 kW at the board (×100): limited to 2 kW before it is sent.
    const event = await run.command({ kind: 'setpoint', deviceId: DEVICE, p_mw: 0.5 });
    expect(event.message).toMatch(/safety: P 5000 W limited to 2000 W/);
    // The board delivers its set-point (plus a small droop term): 2 kW → 0.2 MW in the twin.
    await waitFor(
      'board at its limited set-point',
      () => Math.abs((latest?.devices[DEVICE].p_mw ?? 0) - 0.2) < 0.02,
    );
    expect(links[0].setpointsLimited).toBe(1);

    const stop = await run.command({ kind: 'emergency-stop' });
    expect(stop.kind).toBe('emergency-stop');
    await waitFor('board stopped', () => Math.abs(latest?.devices[DEVICE].p_mw ?? 1) < 1e-6);
    expect(events.map((e) => e.kind)).toContain('emergency-stop');
    await expect(run.command({ kind: 'setpoint', deviceId: DEVICE, p_mw: 0.1 })).rejects.toThrow(
      /emergency stop/,
    );

    // The board disappears: the simulated model stands in, so the twin still sees the unit online.
    await board.stop();
    await waitFor('link offline', () => links[0]?.online === false);
    await sleep(100);
    expect(latest?.devices[DEVICE].online).toBe(true);
    board = await startEmulatedBoard('battery', { device: pair.b });
    await waitFor('board back', () => links[0]?.online === true);
    await run.stop();
    const end = await run.finished;
    expect(end.type).toBe('stopped');
    // A command after the loop has ended fails at once instead of waiting for ever.
    await expect(run.command({ kind: 'emergency-stop' })).rejects.toThrow(/loop has stopped/);
  });

  it('after the emergency stop, set-points to simulated units and FIDs are refused as latched, not accepted and ignored', async () => {
    const run = new RealtimeRun({
      twin: { grid: 'grids/demo-33bw-microgrids.yaml', seed: 1, dt_s: 0.002 },
      devices: [],
      snapshotEvery: 50,
      overrunPolicy: 'continue',
      warmupSteps: 0,
    });
    cleanups.push(() => run.stop());
    await run.ready;
    // Before: both accepted.
    expect((await run.command({ kind: 'setpoint', deviceId: 'bess-25', p_mw: 0.1 })).kind).toBe('setpoint');
    expect((await run.command({ kind: 'fid-setpoint', fidId: 'fid-25-29', p_mw: 0.05 })).kind).toBe(
      'fid-setpoint',
    );
    await run.command({ kind: 'emergency-stop' });
    await expect(run.command({ kind: 'setpoint', deviceId: 'bess-25', p_mw: 0.2 })).rejects.toThrow(
      'set-point refused: emergency stop is latched',
    );
    await expect(run.command({ kind: 'fid-setpoint', fidId: 'fid-25-29', p_mw: 0.1 })).rejects.toThrow(
      'set-point refused: emergency stop is latched',
    );
    await run.stop();
  });

  it('a command sent while the loop starts is refused at once as not ready; a stop sent then still stops it', async () => {
    const config = {
      twin: { grid: 'grids/demo-33bw-microgrids.yaml', seed: 1, dt_s: 0.002 },
      devices: [],
      snapshotEvery: 50,
      overrunPolicy: 'continue' as const,
      duration_s: 2,
    };
    const run = new RealtimeRun(config);
    cleanups.push(() => run.stop());
    expect(run.isReady).toBe(false);
    await expect(run.command({ kind: 'emergency-stop' })).rejects.toThrow(LoopNotReadyError);
    await expect(run.scenario('pause')).rejects.toThrow(/still starting: nothing was done/);
    await run.ready;
    expect((await run.command({ kind: 'breaker', id: 'pcc-mg1', closed: true })).kind).toBe('breaker');
    await run.stop();

    // A stop sent before the loop is ready is kept until it can act: the loop ends by itself,
    // without a step, instead of being killed.
    const early = new RealtimeRun({ ...config, duration_s: undefined });
    cleanups.push(() => early.stop());
    const stopped = early.stop();
    const end = await early.finished;
    await stopped;
    expect(end).toMatchObject({ type: 'stopped', reason: 'requested', steps: 0 });
  });

  it('a scenario set-point for a hardware device reaches the hardware, on a firmware and a SunSpec link', async () => {
    const boardPair = await openPtyPair();
    cleanups.push(() => boardPair.stop());
    const board = await startEmulatedBoard('battery', { device: boardPair.b });
    cleanups.push(() => board.stop());
    const sunspecPair = await openPtyPair();
    cleanups.push(() => sunspecPair.stop());
    const slave = await startSunSpecSlave({ path: sunspecPair.b, rating_w: 10_000 });
    cleanups.push(() => slave.stop());
    const dir = mkdtempSync(join(tmpdir(), 'gridloop-hw-scn-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'hw-setpoints.yaml');
    writeFileSync(
      file,
      `name: hw-setpoints
grid: ${join(import.meta.dirname, '..', 'grids', 'demo-33bw-microgrids.yaml')}
seed: 1
duration_s: 2.5
events:
  - { at: 0.3, action: setpoint, device: ${DEVICE}, p_mw: 0.15 }
  - { at: 0.3, action: setpoint, device: pv-lab, p_mw: 0.3 }
`,
    );
    const run = new RealtimeRun({
      twin: { grid: file, scenario: file, seed: 1, dt_s: 0.002 },
      devices: [
        // 0.15 MW in the twin = 1.5 kW at the board (×100).
        { id: DEVICE, path: boardPair.a, powerScale: 100, exchangeEvery: 5 },
        // 0.3 MW in the twin = 3 kW at the SunSpec device (×100), polled every 0.2 s.
        { id: 'pv-lab', driver: 'sunspec', path: sunspecPair.a, bus: '14', rating_mva: 1, powerScale: 100 },
      ],
      snapshotEvery: 10,
      overrunPolicy: 'continue',
    });
    cleanups.push(() => run.stop());
    let latest: Snapshot | undefined;
    const events: TwinEvent[] = [];
    run.on('message', (m: LoopToHost) => {
      if (m.type !== 'batch') return;
      latest = m.snapshots.at(-1) ?? latest;
      events.push(...m.events);
    });
    const end = await run.finished;
    expect(end.type).toBe('stopped');
    const links = end.type === 'stopped' ? end.links : [];
    expect(links.map((l) => [l.deviceId, l.setpointsSent >= 1])).toEqual([
      [DEVICE, true],
      ['pv-lab', true],
    ]);
    // The devices acted on them: the SunSpec device runs at 3 kW, the board towards 1.5 kW.
    expect(slave.state.writes.length).toBeGreaterThan(0);
    expect(slave.state.w).toBeCloseTo(3000, -2);
    // (The board's droop takes some back as the islanded MG2's frequency rises with 0.45 MW more.)
    expect(latest?.devices[DEVICE].p_mw).toBeGreaterThan(0.05);
    expect(latest?.devices[DEVICE].p_mw).toBeLessThan(0.16);
    expect(events.filter((e) => e.kind === 'setpoint').map((e) => e.target)).toEqual([DEVICE, 'pv-lab']);
  });
});
