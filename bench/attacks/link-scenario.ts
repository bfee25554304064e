/**
 * Runs a security scenario whose `security.link` section puts a real board in the loop: the C
 * emulated battery board on a pseudo-terminal, the bench's FirmwareLink (signed or not) through a
 * man in the middle (AttackedTransport) that records the board's frames and replays, drops, delays
 * or floods them. The twin steps once per exchange (paced by the link, not by the wall clock), the
 * twin-side detectors of the scenario run as usual, and the link's frame-signing verifier acts as a
 * detector: every rejected frame is an alarm evaluation of `frame-signing`.
 */

import { startEmulatedBoard } from '../../firmware-protocol/host/boards.ts';
import {
  Deframer,
  type FrameErrorCode,
  type FrameSink,
  SignatureVerifier,
  signingTimestampFromUnixMs,
} from '../../firmware-protocol/ts/index.ts';
import type { DeviceInput, TwinState } from '../../twin/api.ts';
import type { SecurityRunResult, SecurityScenario } from '../../twin/attacks/security.ts';
import { judgeSecurityRun, SecurityHarness } from '../../twin/attacks/security.ts';
import { AssertionSet } from '../../twin/scenario/assertions.ts';
import { buildScenarioTwin } from '../../twin/scenario/runner.ts';
import { FirmwareLink } from '../devices/firmware-link.ts';
import { openPtyPair, SerialTransport } from '../devices/transport.ts';
import { AttackedTransport, type LinkAttackMode } from './link-attack.ts';

export interface LinkSection {
  device: string;
  signed: boolean;
  /** Board rating, W. @default 100000 */
  ratedPowerW?: number;
  /** Device W → twin MW multiplier (after 1e-6). @default 1 */
  powerScale?: number;
  /** Set-points the bench sends the board. */
  setpoints?: { at: number; p_mw: number }[];
  attack: {
    id?: string;
    kind: 'replay' | 'drop' | 'delay' | 'flood';
    /** Replay: the window whose frames are recorded. */
    record_from_s?: number;
    record_to_s?: number;
    start_s: number;
    stop_s: number;
    probability?: number;
    delay_ms?: number;
    flood_bytes?: number;
  };
}

export interface LinkRunResult extends SecurityRunResult {
  link: {
    replayedFrames: number;
    /** Frames the bench's verifier rejected while the attack was on (and up to 0.5 s after). */
    rejectedFrames: number;
    /** Frames the bench accepted from the board while the attack was on. */
    acceptedFrames: number;
  };
  /** Frames rejected per step and reason (the `auth` measurement of docs/grafana.md). */
  auth: { t_s: number; reason: string; rejected: number }[];
}

/** Reason tags of the `auth` measurement, by the deframer's error code. */
const AUTH_REASON: Partial<Record<FrameErrorCode, string>> = {
  BAD_SIGNATURE: 'bad-signature',
  REPLAY: 'replay-window',
  REORDERED: 'replay-window',
  STALE: 'replay-window',
  NO_KEY: 'unknown-key',
  UNSIGNED: 'unsigned',
  CRC_MISMATCH: 'bad-crc',
};

const KEY = new Uint8Array(32).map((_, i) => (i * 29 + 7) & 0xff);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runLinkAttackScenario(
  s: SecurityScenario,
  options: { onStep?: (state: TwinState, input: DeviceInput) => void } = {},
): Promise<LinkRunResult> {
  const link = (s.security as { link?: LinkSection }).link;
  if (!link) throw new TypeError(`${s.file}: no security.link section`);
  const twin = await buildScenarioTwin(s);
  const harness = new SecurityHarness(twin, s.security);
  const assertions = new AssertionSet(s.assertions, twin);
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const pair = await openPtyPair();
    cleanups.push(() => pair.stop());
    const board = await startEmulatedBoard('battery', {
      device: pair.b,
      ratedPowerW: link.ratedPowerW ?? 100_000,
      capacityWh: 200_000,
      ...(link.signed ? { key: KEY, requireSigned: true } : {}),
    });
    cleanups.push(() => board.stop());
    const mitm = new AttackedTransport(new SerialTransport({ path: pair.a, baudRate: 921600 }));
    const fl = new FirmwareLink(
      {
        id: link.device,
        path: pair.a,
        powerScale: link.powerScale ?? 1,
        missedBeforeOffline: 5,
        ...(link.signed
          ? { signing: { keyHex: Buffer.from(KEY).toString('hex'), requireSigned: true } }
          : {}),
      },
      { transport: () => mitm },
    );
    cleanups.push(() => fl.close());
    await fl.open();
    // A tap on what reaches the bench, with its own verifier in the same state as the link's (same
    // key, same byte stream): it names why each frame was rejected, which the link only counts.
    const tap = new Deframer(
      link.signed
        ? {
            authenticator: new SignatureVerifier({
              keyFor: (id) => (id === 1 ? { key: KEY, required: true } : undefined),
              now: () => signingTimestampFromUnixMs(Date.now()),
            }),
          }
        : {},
    );
    const rejectedBy = new Map<string, number>();
    const tapSink: FrameSink = {
      frame: () => {},
      reject: (rejection) => {
        const reason = AUTH_REASON[rejection.code];
        if (reason) rejectedBy.set(reason, (rejectedBy.get(reason) ?? 0) + 1);
      },
    };
    // feed(), not push(): a flood attack must not cost an Error per rejected frame here either.
    mitm.on('data', (chunk) => tap.feed(chunk, tapSink));
    const auth: LinkRunResult['auth'] = [];
    const a = link.attack;
    const id = a.id ?? `link-${a.kind}@${link.device}`;
    harness.engine.intervals.push({
      id,
      kind: `link-${a.kind}`,
      target: link.device,
      start_s: a.start_s,
      stop_s: a.stop_s,
    });
    const modeAt = (t: number): LinkAttackMode => {
      if (a.kind === 'replay' && t >= (a.record_from_s ?? 0) && t < (a.record_to_s ?? 0))
        return { kind: 'record' };
      if (t < a.start_s || t >= a.stop_s) return { kind: 'pass' };
      if (a.kind === 'replay') return { kind: 'replay' };
      if (a.kind === 'drop') return { kind: 'drop', probability: a.probability ?? 1 };
      if (a.kind === 'delay') return { kind: 'delay', ms: a.delay_ms ?? 50 };
      return { kind: 'flood', bytes: a.flood_bytes ?? 256 };
    };
    const steps = Math.round(s.duration_s / twin.dt_s);
    const setpoints = [...(link.setpoints ?? [])].sort((x, y) => x.at - y.at);
    let nextSetpoint = 0;
    let lastAuth = 0;
    let rejected = 0;
    let acceptedAtStart = 0;
    let accepted = 0;
    let state: TwinState = twin.state;
    for (let k = 0; k < steps; k++) {
      const t = twin.state.t_s;
      while (nextSetpoint < setpoints.length && setpoints[nextSetpoint].at <= t)
        fl.setpoint({ p_mw: setpoints[nextSetpoint++].p_mw });
      mitm.mode = modeAt(t);
      if (k > 0 && Math.abs(t - a.start_s) < twin.dt_s / 2) acceptedAtStart = fl.stats().framesRx;
      fl.exchange(twin.measurementFor(link.device));
      // Let the board answer (a few ms over a pty); the twin then steps with the newest input.
      await sleep(4);
      const input = fl.input();
      state = twin.step([input]);
      options.onStep?.(state, input);
      assertions.update(state, twin);
      harness.afterStep(state);
      for (const [reason, n] of rejectedBy) auth.push({ t_s: state.t_s, reason, rejected: n });
      rejectedBy.clear();
      const stats = fl.stats();
      const newAuth = stats.authErrors - lastAuth;
      lastAuth = stats.authErrors;
      const underAttack = state.t_s >= a.start_s && state.t_s < a.stop_s + 0.5;
      if (underAttack) rejected += newAuth;
      if (Math.abs(state.t_s - a.stop_s) < twin.dt_s / 2) accepted = stats.framesRx - acceptedAtStart;
      if (link.signed) {
        harness.log.record(
          { t_s: state.t_s, detector: 'frame-signing', statistic: newAuth, threshold: 0, alarm: newAuth > 0 },
          `${link.device} link`,
          `${newAuth} frame(s) failed authentication`,
        );
      }
    }
    return {
      ...judgeSecurityRun(s, assertions.finish(state, twin), harness),
      link: {
        replayedFrames: mitm.counters.replayedFrames,
        rejectedFrames: rejected,
        acceptedFrames: accepted,
      },
      auth,
    };
  } finally {
    for (const undo of cleanups.reverse()) await undo().catch(() => {});
  }
}
