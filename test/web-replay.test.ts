/**
 * A recorded attack run replayed onto the live page (`gridloop replay <run> --serve`), in headless
 * chromium: the same banner, diagram mark, shaded attack and alarm spans and χ² chart as live, with
 * the times the run recorded. The run is a short `gridloop attack` run (a 0.08 pu FDIA bias on
 * MG2's bus 14 from 2 s to 5 s, χ² detector every 0.1 s), made by the CLI as a user makes one;
 * its recorded events are the reference the page is checked against. Screenshots go to
 * test-artifacts/web/.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { budget } from './support/machine-speed.ts';
import { launchChromium, screenshot, watchErrors } from './web-browser.ts';

const root = join(import.meta.dirname, '..');
let tmp: string;
let run: string;
let browser: Browser;
let replay: ChildProcessWithoutNullStreams | undefined;
let out = '';

const SCENARIO = `name: replay-marks
grid: ${join(root, 'grids/demo-33bw-microgrids.yaml')}
seed: 3
dt_s: 0.01
duration_s: 8
security:
  estimation: { island: MG2, every_steps: 10, alpha: 0.05, persistence: { k: 3, n: 5 } }
  attacks:
    - { id: bias-v14, kind: bias, target: se.vm_pu.14, start_s: 2, stop_s: 5, bias: 0.08 }
  expect:
    - { type: detected, attack: bias-v14, by: state-estimation, within_s: 1 }
`;

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/gridloop.mjs', ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Resolves once the replay's standard output matches `pattern` (its match). */
function output(pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = pattern.exec(out);
      if (m) {
        replay!.stdout.off('data', check);
        replay!.off('close', closed);
        resolve(m);
      }
    };
    const closed = () => reject(new Error(`replay exited before printing ${pattern}:\n${out}`));
    replay!.stdout.on('data', check);
    replay!.once('close', closed);
    check();
  });
}

interface Recorded {
  kind: string;
  t_s: number;
  data?: Record<string, unknown>;
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'gridloop-web-replay-'));
  run = join(tmp, 'run');
  await writeFile(join(tmp, 'replay-marks.yaml'), SCENARIO);
  const [recorded, launched] = await Promise.all([
    cli(['attack', join(tmp, 'replay-marks.yaml'), '--out', run]),
    launchChromium(),
  ]);
  browser = launched;
  expect(recorded.stderr).toBe('');
  expect(recorded.code).toBe(0);
}, budget(120_000));

afterAll(async () => {
  if (replay && replay.exitCode === null) replay.kill('SIGKILL');
  await browser?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('a recorded run replayed on the live page', () => {
  it('shows the same attack and alarm marks and χ² chart as the run recorded', {
    timeout: budget(120_000),
  }, async () => {
    const events: Recorded[] = (await readFile(join(run, 'events.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const alarm = events.find((e) => e.kind === 'alarm')!;
    const cleared = events.find((e) => e.kind === 'alarm-cleared')!;
    expect(alarm.t_s).toBeGreaterThanOrEqual(2);
    expect(cleared.t_s).toBeGreaterThan(5);

    // Paused in the middle of the attack, so the page can be looked at while it lasts.
    replay = spawn(
      process.execPath,
      ['bin/gridloop.mjs', 'replay', run, '--serve', '--port', '0', '--speed', '4', '--pause-at', '4'],
      { cwd: root },
    );
    replay.stdout.on('data', (d) => (out += d));
    replay.stderr.on('data', (d) => (out += d));
    const [, link] = await output(/viewer link: (\S+)/);
    const page: Page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const errors = watchErrors(page);
    await page.goto(link);
    await output(/paused at t = 4\.0/);
    await page.waitForSelector('#attack-banner:not([hidden])');
    const banner = await page.textContent('#attack-banner');
    expect(banner).toMatch(/ATTACK: bias on se\.vm_pu\.14\s*since t = 2\.0 s/);
    expect(banner).toContain(`detector alarm at t = ${alarm.t_s.toFixed(1)} s (state-estimation)`);
    expect(
      await page.$$eval('#diagram .attacked', (els) => els.map((el) => (el as SVGElement).dataset.bus)),
    ).toEqual(['14']);
    // The χ² chart: the recorded statistic far above its threshold while attacked.
    await page.waitForFunction(() => {
      const g = (window as never as { __gridloop: { lastState: { detectors?: object } | null } }).__gridloop;
      return g.lastState?.detectors !== undefined;
    });
    expect(await page.locator('#detector-figure').isVisible()).toBe(true);
    const detector = await page.evaluate(() => {
      const c = (
        window as never as { __gridloop: { charts: { detector: { names: string[]; columns: number[][] } } } }
      ).__gridloop.charts.detector;
      return { names: c.names, statistic: c.columns[1].at(-1)!, threshold: c.columns[2].at(-1)! };
    });
    expect(detector.names).toEqual(['state-estimation', 'state-estimation threshold']);
    // The replay waited for the page: its charts start at the run's start.
    expect(
      await page.evaluate(
        () =>
          (window as never as { __gridloop: { charts: { frequency: { columns: number[][] } } } }).__gridloop
            .charts.frequency.columns[0][0],
      ),
    ).toBeLessThan(0.5);
    expect(detector.statistic).toBeGreaterThan(detector.threshold);
    await screenshot(page, 'replay-attack-active');

    // On to the end: the periods the run recorded, shaded on every chart.
    replay.stdin.write('c\n');
    await output(/replay ended/);
    expect(out).toMatch(/bit-identical: yes/);
    await page.waitForSelector('#attack-banner[hidden]', { state: 'attached' });
    await page.waitForFunction(
      () =>
        (window as never as { __gridloop: { status?: { state: string } } }).__gridloop.status?.state ===
        'stopped',
    );
    const spans = await page.evaluate(() =>
      Object.fromEntries(
        Object.entries(
          (window as never as { __gridloop: { charts: Record<string, { spans: unknown[] }> } }).__gridloop
            .charts,
        ).map(([name, chart]) => [name, chart.spans]),
      ),
    );
    const expected = [
      { kind: 'attack', from_s: 2, to_s: 5 },
      { kind: 'alarm', from_s: alarm.t_s, to_s: cleared.t_s },
    ];
    for (const name of ['frequency', 'voltage', 'detector']) expect(spans[name], name).toEqual(expected);
    await screenshot(page, 'replay-attack-ended');
    expect(errors).toEqual([]);

    replay.kill('SIGINT');
    // Bounded: a server that cannot close (a page's connection held open) must fail here, not hang.
    const code = await new Promise<number | string | null>((resolve) => {
      const timer = setTimeout(() => resolve('still running 20 s after SIGINT'), budget(20_000));
      replay!.once('close', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(code).toBe(0);
  });
});

describe('a recording older than attack event data, replayed on the live page', () => {
  it('shows the attack and alarm marks, rebuilt from the event text and detector points', {
    timeout: budget(120_000),
  }, async () => {
    // The older format, made from the fresh run: attack events without `data`, no `alarm-cleared`
    // (detectors did not log it then). The fresh run's own events are the reference.
    const events: Recorded[] = (await readFile(join(run, 'events.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const alarm = events.find((e) => e.kind === 'alarm')!;
    const cleared = events.find((e) => e.kind === 'alarm-cleared')!;
    const old = join(tmp, 'run-old');
    await cp(run, old, { recursive: true });
    const older = events
      .filter((e) => e.kind !== 'alarm-cleared')
      .map((e) => {
        if (e.kind !== 'attack-start' && e.kind !== 'attack-stop') return e;
        const { data: _data, ...rest } = e;
        return rest;
      });
    expect(older.filter((e) => e.kind.startsWith('attack-')).length).toBe(2);
    await writeFile(join(old, 'events.jsonl'), `${older.map((e) => JSON.stringify(e)).join('\n')}\n`);

    out = '';
    replay = spawn(
      process.execPath,
      ['bin/gridloop.mjs', 'replay', old, '--serve', '--port', '0', '--speed', '0', '--pause-at', '4'],
      { cwd: root },
    );
    replay.stdout.on('data', (d) => (out += d));
    replay.stderr.on('data', (d) => (out += d));
    const [, link] = await output(/viewer link: (\S+)/);
    const page: Page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const errors = watchErrors(page);
    await page.goto(link);
    await output(/paused at t = 4\.0/);
    await page.waitForSelector('#attack-banner:not([hidden])');
    expect(await page.textContent('#attack-banner')).toMatch(
      /ATTACK: bias on se\.vm_pu\.14\s*since t = 2\.0 s/,
    );
    expect(
      await page.$$eval('#diagram .attacked', (els) => els.map((el) => (el as SVGElement).dataset.bus)),
    ).toEqual(['14']);
    await screenshot(page, 'replay-old-recording-attack-active');
    replay.stdin.write('c\n');
    await output(/replay ended/);
    await page.waitForFunction(
      () =>
        (window as never as { __gridloop: { status?: { state: string } } }).__gridloop.status?.state ===
        'stopped',
    );
    await page.waitForSelector('#attack-banner[hidden]', { state: 'attached' });
    const spans = await page.evaluate(() =>
      Object.fromEntries(
        Object.entries(
          (window as never as { __gridloop: { charts: Record<string, { spans: unknown[] }> } }).__gridloop
            .charts,
        ).map(([name, chart]) => [name, chart.spans]),
      ),
    );
    const expected = [
      { kind: 'attack', from_s: 2, to_s: 5 },
      { kind: 'alarm', from_s: alarm.t_s, to_s: cleared.t_s },
    ];
    for (const name of ['frequency', 'voltage', 'detector']) expect(spans[name], name).toEqual(expected);
    expect(errors).toEqual([]);
    replay.kill('SIGINT');
    await new Promise((resolve) => replay!.once('close', resolve));
  });
});
