/**
 * The live detectors (sample on the loop thread, WLS in a worker thread, answers concluded later)
 * give exactly what the offline detector of `gridloop attack` gives on the same data: two twins
 * built alike and stepped alike, one with SeDetector.update after each step, the other with
 * LiveDetectors, the same bias attack on both (offline through an AttackEngine, live through the
 * twin's `attack` command as an operator sends it).
 */

import { afterEach, describe, expect, it } from 'vitest';
import { budget } from '../../test/support/machine-speed.ts';
import type { TwinEvent } from '../../twin/api.ts';
import { AttackEngine } from '../../twin/attacks/engine.ts';
import { AlarmLog, type DetectorSample } from '../../twin/detection/alarms.ts';
import { SeDetector, type SeDetectorOptions } from '../../twin/detection/state-estimation.ts';
import { createTwin } from '../runtime/twin-factory.ts';
import { LiveDetectors } from './live-detectors.ts';

const TWIN = { grid: 'grids/demo-33bw-microgrids.yaml', seed: 7, dt_s: 0.001 };
const OPTIONS: SeDetectorOptions = {
  island: 'MG2',
  every_steps: 50,
  alpha: 0.05,
  persistence: { k: 3, n: 5 },
};
const STEPS = 2000;
const ATTACK_AT_STEP = 800;

describe('LiveDetectors', { timeout: budget(30_000) }, () => {
  let live: LiveDetectors | undefined;
  afterEach(async () => {
    await live?.close();
  });

  it('matches the offline detector sample for sample, alarms included', async () => {
    const offlineTwin = await createTwin(TWIN);
    const log = new AlarmLog();
    const offline = new SeDetector(offlineTwin, OPTIONS, log);
    const engine = new AttackEngine(offlineTwin, { se: offline });

    const liveTwin = await createTwin(TWIN);
    live = new LiveDetectors(liveTwin, { estimation: OPTIONS });
    const events: TwinEvent[] = [];
    const samples: DetectorSample[] = [];

    for (let k = 0; k < STEPS; k++) {
      if (k === ATTACK_AT_STEP) {
        const started = liveTwin.command({
          kind: 'attack',
          action: 'start',
          id: 'v14',
          attack: { kind: 'bias', target: 'se.vm_pu.14', bias: 0.04 } as never,
        });
        expect(started.kind).toBe('attack-start');
        engine.launch({
          id: 'v14',
          kind: 'bias',
          target: 'se.vm_pu.14',
          start_s: offlineTwin.state.t_s,
          bias: 0.04,
        });
      }
      offline.update(offlineTwin.step([]));
      live.afterStep(liveTwin.step([]));
      if (k % 200 === 0) live.drain(events, samples, liveTwin.state.t_s);
    }
    const end = performance.now() + 10_000;
    while (live.pending > 0 && performance.now() < end) await new Promise((r) => setTimeout(r, 5));
    live.drain(events, samples, liveTwin.state.t_s);

    expect(samples.length).toBe(STEPS / OPTIONS.every_steps!);
    expect(samples).toEqual(log.samples);
    expect(log.alarms.length).toBeGreaterThanOrEqual(1);
    expect(events.filter((e) => e.kind === 'alarm').map((e) => [e.t_s, e.target])).toEqual(
      log.alarms.map((a) => [a.t_s, a.target]),
    );
    expect(live.estimate_ms.max).toBeGreaterThan(0);
  });

  it('a live attack can target the estimator telemetry only once the detectors are attached', async () => {
    const bare = await createTwin(TWIN);
    expect(() =>
      bare.command({
        kind: 'attack',
        action: 'start',
        attack: { kind: 'bias', target: 'se.vm_pu.14', bias: 1 } as never,
      }),
    ).toThrow(/unknown attack target channel 'se.vm_pu.14'/);
    // Attached after the engine is in use: refused, not silently ignored.
    expect(() => new LiveDetectors(bare, { estimation: OPTIONS })).toThrow(/already in use/);
  });
});
