/**
 * Recordings older than attack event data: the live run's attack events, as a twin with live
 * attacks logs them today, lose their `data` (as they were recorded before it existed), and
 * withAttackMarks must give it back as the twin gave it. The `gridloop attack` form and the
 * alarm clearings are checked end to end on the replayed page (test/web-replay.test.ts).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TwinEvent } from '../../twin/api.ts';
import { enableLiveAttacks, endedLiveAttacks } from '../../twin/attacks/live.ts';
import { twinFromFiles } from '../../twin/twin.ts';
import { withAttackMarks } from './older-events.ts';
import type { RecordedEvent } from './read-run.ts';

const grid = join(import.meta.dirname, '../../grids/demo-33bw-microgrids.yaml');

const recorded = (e: TwinEvent): RecordedEvent => ({ ...e, time_ns: BigInt(Math.round(e.t_s * 1e9)) });

describe('attack marks of recordings older than attack event data', () => {
  it("a live run's attack events (started, stopped, run out) get back the data the twin gave them", async () => {
    const twin = await twinFromFiles({ grid, seed: 1, dt_s: 0.01 });
    enableLiveAttacks(twin);
    const events: TwinEvent[] = [];
    const run = (steps: number) => {
      for (let k = 0; k < steps; k++) {
        const state = twin.step([]);
        events.push(...state.events, ...endedLiveAttacks(twin, state.t_s));
      }
    };
    run(10);
    // A command's outcome is the event the bench records for it.
    const command = (c: Parameters<typeof twin.command>[0]) => events.push(twin.command(c));
    command({
      kind: 'attack',
      action: 'start',
      id: 'timed',
      attack: { kind: 'bias', target: 'bess-hw.f_hz', bias: 0.5, duration_s: 0.5 },
    });
    command({
      kind: 'attack',
      action: 'start',
      attack: { kind: 'spoof', target: 'bess-hw.vm_pu', value: 0.5 },
    });
    run(20);
    const spoof = events.find((e) => e.kind === 'attack-start' && e.target !== 'timed')!.target!;
    command({ kind: 'attack', action: 'stop', id: spoof });
    run(60);
    const attacks = events.filter((e) => e.kind === 'attack-start' || e.kind === 'attack-stop');
    expect(attacks.map((e) => `${e.kind} ${e.target}`).sort()).toEqual(
      ['attack-start timed', 'attack-stop timed', `attack-start ${spoof}`, `attack-stop ${spoof}`].sort(),
    );
    const older = events.map(({ data: _data, ...rest }) => recorded(rest));
    const rebuilt = withAttackMarks(older, []);
    expect(
      rebuilt.filter((e) => e.kind.startsWith('attack-')).map((e) => ({ kind: e.kind, data: e.data })),
    ).toEqual(attacks.map((e) => ({ kind: e.kind, data: e.data })));
  });

  it('events that carry their data, and other events, pass through unchanged', () => {
    const events: RecordedEvent[] = [
      { time_ns: 1n, t_s: 1, kind: 'breaker', message: 'pcc-mg1 opened', target: 'pcc-mg1' },
      {
        time_ns: 2n,
        t_s: 2,
        kind: 'attack-start',
        message: 'whatever the text',
        target: 'a',
        data: { attack: 'a', kind: 'bias', channel: 'x.f_hz', from_s: 2 },
      },
      { time_ns: 3n, t_s: 3, kind: 'attack-start', message: 'not a form it knows', target: 'b' },
    ];
    expect(withAttackMarks(events, [])).toEqual(events);
  });
});
