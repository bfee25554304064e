/**
 * Every attack scenario in scenarios/attacks/ runs end to end: the twin-only ones on the twin with
 * simulated boards, the `security.link` ones over a real pseudo-terminal with the C emulated battery
 * board. Each must pass its own expectations (written in the YAML against the ground-truth labels),
 * and the figures the issue names are asserted here as well.
 */

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLinkAttackScenario } from '../bench/attacks/link-scenario.ts';
import {
  loadSecurityScenario,
  runSecurityScenario,
  type SecurityRunResult,
} from '../twin/attacks/security.ts';
import { budget } from './support/machine-speed.ts';

const DIR = join(import.meta.dirname, '../scenarios/attacks');
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

function failures(r: SecurityRunResult): string[] {
  return [...r.assertions, ...r.expectations].filter((o) => !o.passed).map((o) => `${o.name}: ${o.detail}`);
}

async function run(name: string) {
  const s = await loadSecurityScenario(join(DIR, `${name}.yaml`));
  const r = (s.security as { link?: unknown }).link
    ? await runLinkAttackScenario(s)
    : await runSecurityScenario(s);
  return r;
}

/** Run by the generic test below; the others have a test of their own. */
const DETECTED = [
  'fdia-ramp-frequency',
  'replay-frequency',
  'spoof-setpoint',
  'dos-drop-measurement',
  'dos-jitter-measurement',
  'time-sync-offset',
  'compromised-battery',
];
const OWN_TEST = [
  'fdia-bias-voltage',
  'fdia-stealthy',
  'replay-signed-link',
  'replay-unsigned-link',
  // On the market's ledger: bench/market/consensus-scenario.test.ts.
  'consensus-under-attack',
];
/** Attacks on a VPP's communication network: run with the VPP attached in test/vpp-scenario.test.ts. */
const VPP = ['vpp-byzantine-agent', 'vpp-comms-faults'];

describe('attack scenario library', { timeout: budget(120_000) }, () => {
  it('every shipped attack scenario is run by a test here', () => {
    const names = files.map((f) => f.replace(/\.yaml$/, '')).sort();
    expect([...DETECTED, ...OWN_TEST, ...VPP].sort()).toEqual(names);
  });

  it('has at least 8 attack scenarios, 2 of them over a real link', async () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
    const withLink = [];
    for (const f of files) {
      const s = await loadSecurityScenario(join(DIR, f));
      const link = (s.security as { link?: unknown }).link;
      if (link) withLink.push(f);
      // Every scenario declares its attack: on a channel, or on the link.
      const ledger = (s.security as { ledger?: { attacks: unknown[] } }).ledger;
      expect(
        (s.security.attacks?.length ?? 0) + (link ? 1 : 0) + (ledger?.attacks.length ?? 0),
      ).toBeGreaterThanOrEqual(1);
      // A ledger scenario's expectations are fixed: every attack rejected, balances right.
      if (!ledger) expect(s.security.expect?.length).toBeGreaterThan(0);
    }
    expect(withLink.length).toBeGreaterThanOrEqual(2);
  });

  it('bias FDIA of 10σ on a voltage: χ² alarm within 1 s, LNR names the channel, ≤ 1 % false alarms', async () => {
    const r = await run('fdia-bias-voltage');
    expect(failures(r)).toEqual([]);
    const a = r.metrics.attacks[0];
    expect(a.detectedBy['state-estimation']).toBeLessThanOrEqual(1);
    const se = r.metrics.detectors.find((d) => d.detector === 'state-estimation')!;
    expect(se.cleanEvaluations).toBeGreaterThanOrEqual(150);
    expect(se.falseAlarmFraction).toBeLessThanOrEqual(0.01);
    const first = r.harness.log.alarms.find((x) => x.t_s >= a.start_s)!;
    expect(first.target).toBe('se.vm_pu.14');
  });

  it('stealthy a = H·c moves the estimate yet passes χ²; the device meter cross-check catches it', async () => {
    let shiftSeen = 0;
    const s = await loadSecurityScenario(join(DIR, 'fdia-stealthy.yaml'));
    let before = Number.NaN;
    const r = await runSecurityScenario(s, {
      onStep: (state, twin, h) => {
        const se = h.se!;
        if (!se.last || state.step % se.every_steps !== 0) return;
        const local = se.localBus('18', twin);
        const err = se.last.vm[local] - state.vm_pu[twin.hardwareById.get('bess-hw')!.busIndex];
        if (state.t_s > 7 && state.t_s < 8) before = err;
        if (state.t_s > 12 && state.t_s < 13) shiftSeen = err - before;
      },
    });
    expect(failures(r)).toEqual([]);
    // The attack did what it meant to: the estimate at bus 18 is off by ≈ +0.02 pu.
    expect(shiftSeen).toBeGreaterThan(0.012);
    expect(shiftSeen).toBeLessThan(0.028);
    expect(r.metrics.attacks[0].detectedBy['voltage-cross-check']).toBeLessThanOrEqual(1);
  });

  for (const name of DETECTED) {
    it(`${name}: detected as expected, no false alarms beyond the limits`, async () => {
      const r = await run(name);
      expect(failures(r)).toEqual([]);
      expect(r.metrics.attacks.every((a) => a.detected)).toBe(true);
      for (const a of r.metrics.attacks) expect(a.timeToDetect_s).toBeGreaterThanOrEqual(0);
    });
  }

  it('replay over a pty, signed link: 100 % of replayed frames rejected, frequency steady', async () => {
    const r = (await run('replay-signed-link')) as Awaited<ReturnType<typeof runLinkAttackScenario>>;
    expect(failures(r)).toEqual([]);
    expect(r.link.replayedFrames).toBeGreaterThan(50);
    expect(r.link.rejectedFrames).toBe(r.link.replayedFrames);
    expect(r.link.acceptedFrames).toBe(0);
    // Every rejection is for the replay window (the frames are authentic, just old).
    const byReason = new Map<string, number>();
    for (const a of r.auth) byReason.set(a.reason, (byReason.get(a.reason) ?? 0) + a.rejected);
    expect([...byReason.keys()]).toEqual(['replay-window']);
    expect(byReason.get('replay-window')).toBe(r.link.replayedFrames);
    expect(r.metrics.attacks[0].frequencySwing_hz).toBeLessThan(0.03);
  });

  it('the same replay with signing off: frames accepted, frequency excursion', async () => {
    const r = (await run('replay-unsigned-link')) as Awaited<ReturnType<typeof runLinkAttackScenario>>;
    expect(failures(r)).toEqual([]);
    expect(r.link.rejectedFrames).toBe(0);
    expect(r.link.acceptedFrames).toBeGreaterThan(50);
    expect(r.metrics.attacks[0].frequencySwing_hz).toBeGreaterThan(0.05);
    expect(r.metrics.attacks[0].detected).toBe(false);
  });
});
