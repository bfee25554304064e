/**
 * Host targets of the attack engine (HostAttackTarget): channels the twin cannot reach, owned by the
 * host by target prefix. The engine labels their attacks and hands them over; the host's decisions
 * on artefacts (AlarmLog.decision) are measured against the labels like any detector's alarms.
 */
import { describe, expect, it } from 'vitest';
import { AlarmLog } from '../detection/alarms.ts';
import { computeMetrics, ImpactMeter } from '../detection/metrics.ts';
import { loadGridFile } from '../files.ts';
import { Twin } from '../twin.ts';
import type { AttackSpec } from './attacks.ts';
import { AttackEngine, type AttackInterval, type HostAttackTarget } from './engine.ts';

/** A host owning `vault.*`, with one kind, that keeps what the engine hands it. */
function vault(): HostAttackTarget & { got: [AttackSpec, AttackInterval][]; stopped: [string, number][] } {
  const got: [AttackSpec, AttackInterval][] = [];
  const stopped: [string, number][] = [];
  return {
    prefix: 'vault.',
    kinds: ['pick-lock'],
    got,
    stopped,
    launch(spec, label) {
      if (spec.kind !== 'pick-lock') throw new TypeError(`'${spec.kind}' cannot target the vault`);
      if (spec.target !== 'vault.door') throw new TypeError(`unknown vault target '${spec.target}'`);
      got.push([spec, label]);
    },
    stop(id, t_s) {
      stopped.push([id, t_s]);
    },
  };
}

async function twin() {
  const { grid, config } = await loadGridFile('grids/demo-33bw-microgrids.yaml');
  return new Twin(grid, { config, dt_s: 0.1, seed: 1 });
}

describe('attack engine: host targets by prefix', () => {
  it('labels a host attack like any other, hands it to its host, and forwards an early stop', async () => {
    const host = vault();
    const engine = new AttackEngine(await twin(), { hosts: [host] });
    const label = engine.launch({
      id: 'pick',
      kind: 'pick-lock',
      target: 'vault.door',
      start_s: 10,
      stop_s: 20,
    });
    expect(label).toEqual({ id: 'pick', kind: 'pick-lock', target: 'vault.door', start_s: 10, stop_s: 20 });
    expect(engine.intervals).toEqual([label]);
    expect(host.got.map(([s, l]) => [s.kind, l])).toEqual([['pick-lock', label]]);
    expect(engine.activeAt(15)).toEqual(['pick']);
    expect(engine.stop('pick', 12)).toBe(true);
    expect(host.stopped).toEqual([['pick', 12]]);
    expect(engine.intervals[0].stop_s).toBe(12);
  });

  it('refuses what its host refuses, a host kind without its host, and labels nothing then', async () => {
    const host = vault();
    const t = await twin();
    const engine = new AttackEngine(t, { hosts: [host] });
    expect(() => engine.launch({ kind: 'pick-lock', target: 'vault.window', start_s: 1 })).toThrow(
      /unknown vault target 'vault.window'/,
    );
    expect(() => engine.launch({ kind: 'bias', target: 'vault.door', start_s: 1, bias: 1 })).toThrow(
      /'bias' cannot target the vault/,
    );
    // The kind is the host's, the target not: the engine names the host's kinds and prefix.
    expect(() => engine.launch({ kind: 'pick-lock', target: 'bess-hw.f_hz', start_s: 1 })).toThrow(
      /unknown attack kind 'pick-lock'; expected one of bias, .*; pick-lock \(targets vault\.\*\)/,
    );
    expect(() => new AttackEngine(t).launch({ kind: 'pick-lock', target: 'vault.door', start_s: 1 })).toThrow(
      /unknown attack kind 'pick-lock'/,
    );
    expect(engine.intervals).toEqual([]);
  });

  it('measures decisions on artefacts: an alarm counts for the attack it names only; honest refusals are false alarms', async () => {
    const t = await twin();
    const log = new AlarmLog();
    const intervals: AttackInterval[] = [
      { id: 'a', kind: 'pick-lock', target: 'vault.door', start_s: 100, stop_s: 300 },
      { id: 'b', kind: 'pick-lock', target: 'vault.door', start_s: 150, stop_s: 300 },
    ];
    const judge = (t_s: number, detector: string, refused: boolean, attack?: string) =>
      log.decision(
        { t_s, detector, statistic: refused ? 1 : 0, threshold: 0.5, alarm: refused },
        undefined,
        '',
        attack,
      );
    judge(50, 'guard1', false); // an honest artefact, before any attack
    judge(200, 'guard1', true, 'b'); // b's artefact refused, inside a's window too
    judge(200, 'guard1', true, 'a'); // two refusals in a row are two alarms
    judge(200, 'guard2', false, 'a'); // guard2 let a's artefact through
    judge(250, 'guard2', true); // an honest artefact refused during the attacks: a false alarm
    judge(400, 'guard2', false);
    const m = computeMetrics(intervals, log, 600, new ImpactMeter(t), 1);
    const by = Object.fromEntries(m.attacks.map((x) => [x.id, x]));
    expect(by.a.detectedBy).toEqual({ guard1: 100 });
    expect(by.b.detectedBy).toEqual({ guard1: 50 });
    const guards = Object.fromEntries(m.detectors.map((d) => [d.detector, d]));
    expect(guards.guard1).toMatchObject({
      evaluations: 3,
      cleanEvaluations: 1,
      falseAlarms: 0,
      falseAlarmFraction: 0,
    });
    expect(guards.guard2).toMatchObject({
      evaluations: 3,
      cleanEvaluations: 2,
      falseAlarms: 1,
      falseAlarmFraction: 0.5,
    });
  });
});
