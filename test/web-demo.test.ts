/**
 * The acceptance run: `gridloop start` as a user runs it (real twin in its real-time loop process,
 * emulated board, recording, live server), the page in headless chromium. A viewer cannot act; an
 * operator opens the PCC breaker of microgrid MG1 on the diagram and sees MG1 split off as its own
 * island and its frequency leave the main grid's; the command is in the run's audit log.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRunEvents } from '../bench/recording/index.ts';
import { budget } from './support/machine-speed.ts';
import { launchChromium, screenshot, watchErrors } from './web-browser.ts';

const repoRoot = join(import.meta.dirname, '..');
let browser: Browser;
let child: ChildProcess | undefined;
let stdout = '';
const runsDir = mkdtempSync(join(tmpdir(), 'gridloop-web-demo-'));
// A scenario folder with one short scenario, for the operator's scenario controls.
const scenariosDir = mkdtempSync(join(tmpdir(), 'gridloop-web-scenarios-'));
writeFileSync(
  join(scenariosDir, 'fid-nudge.yaml'),
  `name: fid-nudge
grid: ${join(repoRoot, 'grids/demo-33bw-microgrids.yaml')}
seed: 1
duration_s: 4
events:
  - { at: 0.5, action: fid-setpoint, fid: fid-25-29, p_mw: 0.15 }
assertions:
  - { type: event-occurs, kind: fid-setpoint, target: fid-25-29, after: 0.49, until: 0.51 }
`,
);

async function waitFor(pattern: RegExp, timeout_ms = 45_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + budget(timeout_ms);
  while (Date.now() < deadline) {
    const match = stdout.match(pattern);
    if (match) return match;
    if (child?.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${pattern} in gridloop start output:\n${stdout}`);
}

beforeAll(async () => {
  browser = await launchChromium();
  child = spawn(
    process.execPath,
    [
      join(repoRoot, 'bin/gridloop.mjs'),
      'start',
      '--port',
      '0',
      '--runs-dir',
      runsDir,
      '--scenarios',
      scenariosDir,
    ],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
});

afterAll(async () => {
  await browser?.close();
  if (child && child.exitCode === null) child.kill('SIGKILL');
  rmSync(runsDir, { recursive: true, force: true });
  rmSync(scenariosDir, { recursive: true, force: true });
});

const readouts = (page: Page) =>
  page.$$eval('#frequency-readouts .readout', (cards) =>
    Object.fromEntries(
      cards.map((c) => [
        (c as HTMLElement).dataset.island ?? '',
        Number.parseFloat(c.querySelector('.value')?.textContent ?? 'NaN'),
      ]),
    ),
  );

describe('live page on the running demo', () => {
  it('a viewer sees the diagram and charts but has no way to act', { timeout: budget(90_000) }, async () => {
    const [, link] = await waitFor(/viewer link: (\S+)/);
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const errors = watchErrors(page);
    await page.goto(link);
    await page.waitForSelector('#diagram [data-switch="pcc-mg1"]');
    await page.waitForFunction(
      () => (window as never as { __gridloop: { states: number } }).__gridloop.states > 10,
    );
    expect(await page.locator('#diagram .bus').count()).toBe(33);
    expect(await page.locator('#controls').isHidden()).toBe(true);
    await page.click('[data-switch="pcc-mg1"]');
    await page.waitForTimeout(500);
    expect(await page.getAttribute('[data-switch="pcc-mg1"]', 'data-closed')).toBe('true');
    await screenshot(page, 'demo-viewer');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('an operator opens the PCC breaker and sees MG1 split off and its frequency diverge', {
    timeout: budget(120_000),
  }, async () => {
    const [, link] = await waitFor(/operator link: (\S+)/);
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const errors = watchErrors(page);
    await page.goto(link);
    await page.waitForSelector('#controls:not([hidden])');
    await page.waitForFunction(
      () => (window as never as { __gridloop: { states: number } }).__gridloop.states > 10,
    );
    const islandOf = (bus: string) => page.getAttribute(`#diagram [data-bus="${bus}"]`, 'data-island');
    // Grid-connected at start: MG1's buses are in the main grid's island.
    expect(await islandOf('2')).toBe(await islandOf('1'));
    const before = await readouts(page);
    const mainIsland = (await islandOf('1'))!;
    expect(Math.abs(before[mainIsland] - 50)).toBeLessThan(0.05);
    // The card of MG1's island shows what MG1 imports through its PCC, as the twin computes it.
    const pccLine = () => page.locator('#frequency-readouts [data-pcc="MG1"]').textContent();
    const [, importing] =
      /^MG1 PCC import (-?\d+\.\d{3}) MW, -?\d+\.\d{3} Mvar · EMS peak-shaving$/.exec(
        (await pccLine()) ?? '',
      ) ?? [];
    expect(Number(importing)).toBeGreaterThan(0.1);
    await screenshot(page, 'demo-operator-before');

    await page.click('[data-switch="pcc-mg1"]');
    await page.waitForFunction(() =>
      /pcc-mg1 opened/.test(document.querySelector('#command-feedback')?.textContent ?? ''),
    );
    // The island split: bus 2 (MG1) leaves bus 1's island and is coloured differently.
    await page.waitForFunction(
      () =>
        document.querySelector('#diagram [data-bus="2"]')?.getAttribute('data-island') !==
        document.querySelector('#diagram [data-bus="1"]')?.getAttribute('data-island'),
    );
    // Island ids follow the twin's naming (a microgrid's name, or bus-<n>): read them after the split.
    const mg1Island = (await islandOf('2'))!;
    const gridIsland = (await islandOf('1'))!;
    expect(await islandOf('25')).toBe(mg1Island);
    expect(await page.getAttribute('[data-switch="pcc-mg1"]', 'data-closed')).toBe('false');
    await page.waitForFunction(() =>
      /^MG1 PCC open/.test(document.querySelector('#frequency-readouts [data-pcc="MG1"]')?.textContent ?? ''),
    );
    const colour = (bus: string) =>
      page.$eval(`#diagram [data-bus="${bus}"]`, (el) => (el as SVGGElement).style.getPropertyValue('--c'));
    expect(await colour('2')).not.toBe(await colour('1'));
    // Its frequency diverges from the main grid's (MG1 imports from the grid before islanding).
    let diverged = 0;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const now = await readouts(page);
      diverged = Math.abs(now[mg1Island] - now[gridIsland]);
      if (diverged > 0.1) break;
      await page.waitForTimeout(100);
    }
    expect(diverged).toBeGreaterThan(0.1);
    // The frequency chart carries one series per area, named (and coloured) by microgrid.
    const series = await page.evaluate(
      () =>
        (window as never as { __gridloop: { charts: { frequency: { names: string[] } } } }).__gridloop.charts
          .frequency.names,
    );
    expect(series).toEqual(expect.arrayContaining(['grid', mg1Island]));
    expect(await page.locator('#timeline').textContent()).toMatch(/pcc-mg1 opened/);
    await page.waitForTimeout(1500);
    await screenshot(page, 'demo-operator-after-open');

    // Scenario controls: the bench lists its scenario folder; start, pause, resume, verdict.
    expect(
      await page.$$eval('#controls select[name="scenario"] option', (o) => o.map((x) => x.textContent)),
    ).toEqual(['fid-nudge']);
    const scenarioButton = (label: string) =>
      page
        .locator('#controls fieldset')
        .filter({ has: page.locator('legend', { hasText: /^Scenario$/ }) })
        .getByRole('button', { name: label, exact: true });
    await scenarioButton('start').click();
    await page.waitForFunction(() =>
      /fid-nudge/.test(document.querySelector('#run-status')?.textContent ?? ''),
    );
    await scenarioButton('pause').click();
    await page.waitForSelector('#run-status[data-state="paused"]');
    await screenshot(page, 'demo-operator-scenario-paused');
    await scenarioButton('resume').click();
    await page.waitForFunction(
      () =>
        /fid-nudge passed \(1\/1 assertions\)/.test(document.querySelector('#timeline')?.textContent ?? ''),
      undefined,
      { timeout: budget(30_000) },
    );
    expect(await page.getAttribute('#run-status', 'data-state')).toBe('running');
    expect(errors).toEqual([]);
    await page.close();

    child!.kill('SIGINT');
    await new Promise((resolve) => child!.once('exit', resolve));
    const [, runDir] = stdout.match(/run saved in (\S+)/) ?? [];
    const audit = (await readRunEvents(runDir!)).filter((e) => e.kind === 'audit');
    const command = audit.find((e) => (e.data as { action?: string } | undefined)?.action === 'command');
    expect(command?.data).toMatchObject({
      result: 'ok',
      actor: { role: 'operator' },
      command: { type: 'breaker', id: 'pcc-mg1', closed: false },
    });
  });
});
