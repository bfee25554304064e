/**
 * A live attack as an operator launches it (the API's `attack` command maps onto this twin
 * command) through the real-time loop process to a real emulated C board over a pty: the board is
 * told a false frequency, its droop answers with real power, and the attack ends on its own.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { openPtyPair } from '../bench/devices/transport.ts';
import type { LoopToHost, Snapshot } from '../bench/runtime/messages.ts';
import { RealtimeRun } from '../bench/runtime/realtime-run.ts';
import { validateCommand } from '../bench/server/commands.ts';
import { toTwinCommand } from '../bench/server/twin-bridge.ts';
import { startEmulatedBoard } from '../firmware-protocol/host/boards.ts';
import type { TwinCommand, TwinEvent } from '../twin/api.ts';
import { budget, waitFor } from './support/machine-speed.ts';

const DEVICE = 'bess-hw';

describe('live attack through the loop to a C board', { timeout: budget(90_000) }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const undo of cleanups.splice(0).reverse()) await undo().catch(() => {});
  });

  it('a spoofed 49 Hz makes the board discharge by its droop until the attack ends', async () => {
    const pair = await openPtyPair();
    cleanups.push(() => pair.stop());
    const board = await startEmulatedBoard('battery', { device: pair.b });
    cleanups.push(() => board.stop());
    const run = new RealtimeRun({
      twin: { grid: 'grids/demo-33bw-microgrids.yaml', seed: 1, dt_s: 0.001 },
      devices: [{ id: DEVICE, path: pair.a, bus: '18', rating_mva: 1, powerScale: 100, exchangeEvery: 10 }],
      snapshotEvery: 10,
      overrunPolicy: 'continue',
    });
    cleanups.push(() => run.stop());
    let latest: Snapshot | undefined;
    let online = false;
    const events: TwinEvent[] = [];
    run.on('message', (m: LoopToHost) => {
      if (m.type !== 'batch') return;
      latest = m.snapshots.at(-1) ?? latest;
      online = m.links[0]?.online ?? online;
      events.push(...m.events);
    });
    await run.ready;
    await waitFor('board online', () => online);
    const p = () => latest?.devices[DEVICE].p_mw ?? 0;
    expect(Math.abs(p())).toBeLessThan(0.02);

    const api = validateCommand({
      type: 'attack',
      action: 'start',
      id: 'false-49',
      kind: 'spoof',
      target: 'bess-hw.f_hz',
      value: 49,
      duration_s: 1.5,
    });
    expect(api.ok).toBe(true);
    if (!api.ok) return;
    const started = await run.command(toTwinCommand(api.command) as TwinCommand);
    expect(started).toMatchObject({ kind: 'attack-start', target: 'false-49' });
    // The C battery (5 kW, 5 % droop) at 49 Hz: 1/2.5 of rated = 2 kW → 0.2 MW in the twin (×100).
    await waitFor('board discharging by droop', () => Math.abs(p() - 0.2) < 0.03);
    // The attack ends after 1.5 s of twin time; the board sees the real ≈ 50 Hz again.
    await waitFor('attack over', () => Math.abs(p()) < 0.05, 8000);
    // Ended by its duration, the attack logs its own attack-stop (the live run's ground truth).
    await waitFor('attack-stop logged', () => events.some((e) => e.kind === 'attack-stop'), 3000);
    const stop = events.find((e) => e.kind === 'attack-stop')!;
    expect(stop).toMatchObject({ target: 'false-49', message: 'attack false-49 ended after its 1.5 s' });
    expect(stop.t_s - started.t_s).toBeCloseTo(1.5, 2);
    await expect(
      run.command({
        kind: 'attack',
        action: 'start',
        attack: { kind: 'bias', target: 'nope.f_hz', bias: 1 },
      }),
    ).rejects.toThrow(/unknown attack target channel 'nope.f_hz'/);
    await run.stop();
    await run.finished;
  });
});
