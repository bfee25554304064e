/**
 * Scenarios played on the running bench: an operator starts one by name over socket.io, pauses
 * and resumes it, and gets its verdict as a timeline event; the run status says what is playing
 * and when it is paused; bad names and unplayable files are refused with reasons; the recorded
 * run replays bit for bit, scenario actions included.
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRunEvents } from '../bench/recording/index.ts';
import { replayRun } from '../bench/replay/replay-run.ts';
import type { LiveEvent, RunStatus } from '../bench/server/api.ts';
import { type RunningBench, startBench } from '../bench/start-bench.ts';
import { client, closeClients, send, type TestClient, until, welcomed } from './socket-api-helpers.ts';
import { budget } from './support/machine-speed.ts';

const repoRoot = join(import.meta.dirname, '..');
const grid = join(repoRoot, 'grids/demo-33bw-microgrids.yaml');

const scenario = (name: string, body: string) => `name: ${name}
grid: ${grid}
seed: 1
${body}`;

describe('scenario player on the running bench', { timeout: budget(90_000) }, () => {
  const dirs: string[] = [];
  let demo: RunningBench;
  let operator: TestClient;
  let viewer: TestClient;
  const events: LiveEvent[] = [];
  const statuses: RunStatus[] = [];
  let scenariosDir = '';

  beforeAll(async () => {
    const runsDir = mkdtempSync(join(tmpdir(), 'gridloop-scn-runs-'));
    scenariosDir = mkdtempSync(join(tmpdir(), 'gridloop-scn-'));
    dirs.push(runsDir, scenariosDir);
    writeFileSync(
      join(scenariosDir, 'short-step.yaml'),
      scenario(
        'short-step',
        // 5.8 s between the events: the pause must land between them even when a loaded machine
        // takes seconds to carry the command.
        `duration_s: 6.5
events:
  - { at: 0.2, action: fid-setpoint, fid: fid-25-29, p_mw: 0.2 }
  - { at: 6.0, action: load-step, bus: '14', delta_mw: 0.05 }
assertions:
  - { type: event-occurs, kind: fid-setpoint, target: fid-25-29, after: 0.19, until: 0.21 }
  - { type: event-occurs, kind: load-step, after: 5.99, until: 6.01 }
  - { type: frequency-nadir, min_hz: 49.0 }
`,
      ),
    );
    writeFileSync(
      join(scenariosDir, 'too-strict.yaml'),
      scenario(
        'too-strict',
        'duration_s: 0.3\nassertions:\n  - { type: frequency-zenith, max_hz: 49.0, name: never }\n',
      ),
    );
    writeFileSync(join(scenariosDir, 'morning.yaml'), scenario('morning', 'startHour: 7\nduration_s: 1\n'));
    mkdirSync(join(scenariosDir, 'attacks'));
    writeFileSync(
      join(scenariosDir, 'attacks', 'fdia-bias.yaml'),
      scenario(
        'fdia-bias',
        `duration_s: 3
security:
  estimation: { island: MG2, every_steps: 10, alpha: 0.05 }
  attacks:
    - { id: bias-v14, kind: bias, target: se.vm_pu.14, start_s: 1, stop_s: 2, bias: 0.04 }
  expect:
    - { type: detected, attack: bias-v14, by: state-estimation, within_s: 1 }
`,
      ),
    );
    writeFileSync(
      join(scenariosDir, 'broken.yaml'),
      scenario(
        'broken',
        'duration_s: 1\nevents:\n  - { at: 0.1, action: load-step, bus: 14, delta_mw: lots }\n',
      ),
    );
    demo = await startBench({
      host: '127.0.0.1',
      port: 0,
      runsDir,
      scenariosDir,
      seed: 1,
      dt_s: 0.002,
      record_hz: 20,
    });
    const token = (role: string) => demo.tokens.find((t) => t.role === role)!.token;
    operator = client(demo.url, token('operator'));
    viewer = client(demo.url, token('viewer'));
    operator.on('events', (batch) => events.push(...batch));
    viewer.on('status', (s) => statuses.push(s));
    await Promise.all([welcomed(operator), welcomed(viewer)]);
  });

  afterAll(async () => {
    closeClients();
    await demo?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('a viewer may not start one; bad names and unplayable files are refused with the reason', async () => {
    expect(await send(viewer, { type: 'scenario', action: 'start', name: 'short-step' })).toMatchObject({
      ok: false,
      code: 'forbidden',
    });
    expect(await send(operator, { type: 'scenario', action: 'start', name: '../etc/passwd' })).toMatchObject({
      ok: false,
      code: 'invalid',
      reason: expect.stringMatching(/relative path inside the scenario folder/),
    });
    // Named as the client named it: no path of the server's disk in a reply.
    expect(await send(operator, { type: 'scenario', action: 'start', name: 'absent' })).toMatchObject({
      ok: false,
      code: 'failed',
      reason: 'absent.yaml: cannot read scenario: ENOENT',
    });
    expect(await send(operator, { type: 'scenario', action: 'start', name: 'sub/absent' })).toMatchObject({
      ok: false,
      code: 'failed',
      reason: 'sub/absent.yaml: cannot read scenario: ENOENT',
    });
    expect(await send(operator, { type: 'scenario', action: 'start', name: 'morning' })).toMatchObject({
      ok: false,
      code: 'failed',
      reason: expect.stringMatching(/cannot play morning: it sets startHour/),
    });
    expect(await send(operator, { type: 'scenario', action: 'start', name: 'broken' })).toMatchObject({
      ok: false,
      code: 'failed',
      reason: expect.stringMatching(/^broken\.yaml:6 \(at \/events\/0\/delta_mw\): must be number/),
    });
    // An attack scenario is refused, with the reason and the command that runs it.
    expect(
      await send(operator, { type: 'scenario', action: 'start', name: 'attacks/fdia-bias' }),
    ).toMatchObject({
      ok: false,
      code: 'failed',
      reason:
        'cannot play fdia-bias: it has a security section (attacks, detectors and the verdict they must reach), which the live player does not run: run it with `gridloop attack attacks/fdia-bias.yaml`',
    });
    expect(await send(operator, { type: 'scenario', action: 'pause' })).toMatchObject({
      ok: false,
      reason: 'no scenario is playing',
    });
    // The same for a run's own scenario: refused before anything starts.
    await expect(
      startBench({
        host: '127.0.0.1',
        port: 0,
        runsDir: scenariosDir,
        scenario: join(scenariosDir, 'attacks', 'fdia-bias.yaml'),
        seed: 1,
        dt_s: 0.002,
        record_hz: 20,
        command: 'run',
      }),
    ).rejects.toThrow(/^gridloop run: cannot play fdia-bias: it has a security section/);
  });

  it('plays, pauses, resumes and gives its verdict; the status follows', async () => {
    const started = await send(operator, { type: 'scenario', action: 'start', name: 'short-step' });
    expect(started).toMatchObject({ ok: true, message: expect.stringMatching(/short-step started/) });
    await until(() => statuses.at(-1)?.scenario === 'short-step', 5000, 'status naming the scenario');
    // A second start while one plays is refused.
    expect(await send(operator, { type: 'scenario', action: 'start', name: 'short-step' })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/short-step is playing: stop it first/),
    });
    await until(() => events.some((e) => e.kind === 'fid-setpoint'), 10_000, 'the first scenario event');
    const paused = await send(operator, { type: 'scenario', action: 'pause' });
    expect(paused).toMatchObject({ ok: true });
    await until(() => statuses.at(-1)?.state === 'paused', 5000, 'paused status');
    const pausedAt = statuses.at(-1)!;
    expect(pausedAt.scenario).toBe('short-step');
    expect(events.some((e) => e.kind === 'load-step')).toBe(false);
    // Paused before 6.0 s of scenario time: the load step would fall in these 2.5 s.
    await new Promise((r) => setTimeout(r, 2500));
    expect(events.some((e) => e.kind === 'load-step' || e.kind === 'scenario-verdict')).toBe(false);
    const resumed = await send(operator, { type: 'scenario', action: 'resume' });
    expect(resumed).toMatchObject({ ok: true });
    await until(() => events.some((e) => e.kind === 'scenario-verdict'), 20_000, 'the verdict');
    const verdict = events.find((e) => e.kind === 'scenario-verdict')!;
    expect(verdict.message).toBe('short-step passed (3/3 assertions)');
    expect(verdict.data).toMatchObject({ scenario: 'short-step', passed: true });
    const step = events.find((e) => e.kind === 'load-step')!;
    const fid = events.find((e) => e.kind === 'fid-setpoint' && e.target === 'fid-25-29')!;
    // 5.8 s of scenario time between the events, plus the pause on the twin's clock (measured on
    // that clock: a loaded machine runs the twin slower than the wall clock).
    const pause_s = (resumed.ok ? resumed.event!.t_s : 0) - (paused.ok ? paused.event!.t_s : 0);
    expect(pause_s).toBeGreaterThan(0);
    expect(step.t_s - fid.t_s).toBeGreaterThan(5.8 + pause_s - 0.01);
    await until(() => statuses.at(-1)?.scenario === undefined && statuses.at(-1)?.state === 'running');
  });

  it('a failing scenario fails its verdict, naming the assertion; stop ends one without a verdict', async () => {
    expect(await send(operator, { type: 'scenario', action: 'start', name: 'too-strict' })).toMatchObject({
      ok: true,
    });
    await until(() => events.some((e) => e.kind === 'scenario-verdict' && e.target === 'too-strict'), 15_000);
    const verdict = events.find((e) => e.kind === 'scenario-verdict' && e.target === 'too-strict')!;
    expect(verdict.message).toMatch(/too-strict failed \(0\/1 assertions passed; failed: never\)/);
    expect(verdict.data).toMatchObject({ passed: false });

    expect(
      await send(operator, { type: 'scenario', action: 'start', name: 'short-step.yaml' }),
    ).toMatchObject({ ok: true });
    const stopped = await send(operator, { type: 'scenario', action: 'stop' });
    expect(stopped).toMatchObject({
      ok: true,
      message: expect.stringMatching(/short-step stopped at .* without a verdict/),
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(events.filter((e) => e.kind === 'scenario-verdict' && e.target === 'short-step')).toHaveLength(1);
  });

  it('the run folder holds the verdicts and replays bit for bit, scenario actions included', async () => {
    await demo.stop();
    const recorded = await readRunEvents(demo.runDir);
    expect(recorded.filter((e) => e.kind === 'scenario-verdict').map((e) => e.target)).toEqual([
      'short-step',
      'too-strict',
    ]);
    const replay = await replayRun(demo.runDir);
    expect(replay.identical).toBe(true);
    expect(replay.checkpoints).toBeGreaterThan(2);
  });
});
