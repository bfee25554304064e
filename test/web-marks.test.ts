/**
 * What a class comes to see on the live page, in headless chromium against a real server (the
 * scripted fixture of web-fixture.ts): every area keeps its colour when the topology changes, and
 * an attack is visible while it lasts. One browser and one server for the file; screenshots go to
 * test-artifacts/web/.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGridFile } from '../twin/files.ts';
import { TOKENS } from './socket-api-helpers.ts';
import { artifactsDir, launchChromium, screenshot, watchErrors } from './web-browser.ts';
import { type FixtureServer, startFixtureServer } from './web-fixture.ts';

let browser: Browser;
let fixture: FixtureServer;
let page: Page;
let errors: string[];

beforeAll(async () => {
  [browser, fixture] = await Promise.all([launchChromium(), startFixtureServer()]);
  page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  errors = watchErrors(page);
  await page.goto(`${fixture.server.url}?token=${TOKENS.admin}`);
  await page.waitForFunction(
    () => (window as never as { __gridloop: { states: number } }).__gridloop.states > 5,
  );
});
afterAll(async () => {
  await browser?.close();
  await fixture?.close();
});

/** Sends one command over the socket API from inside the page, as any client could. */
function sendCommand(p: Page, token: string, command: object) {
  return p.evaluate(
    async ([token, command]) => {
      const w = window as never as {
        io: (o: object) => {
          emitWithAck: (...a: unknown[]) => Promise<unknown>;
          close(): void;
          once(e: string, f: () => void): void;
        };
      };
      const socket = w.io({ transports: ['websocket'], auth: { token }, forceNew: true });
      await new Promise<void>((resolve) => socket.once('welcome', resolve));
      const answer = await socket.emitWithAck('command', command);
      socket.close();
      return answer;
    },
    [token, command] as const,
  );
}

const gridloop = <T>(p: Page, pick: string) =>
  p.evaluate(
    (expr) => new Function('g', `return ${expr}`)((window as never as { __gridloop: unknown }).__gridloop),
    pick,
  ) as Promise<T>;

/** Colour per area as drawn: diagram buses, chart legends (frequency, voltage), readout cards. */
function coloursShown(p: Page) {
  return p.evaluate(() => {
    // One notation for every source: rgb(r, g, b), as computed styles give it.
    const norm = (c: string) => {
      const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(c.trim());
      return hex
        ? `rgb(${hex
            .slice(1)
            .map((h) => Number.parseInt(h, 16))
            .join(', ')})`
        : c.trim();
    };
    const bus = (id: string) =>
      norm(
        (document.querySelector(`#diagram [data-bus="${id}"]`) as SVGGElement).style.getPropertyValue('--c'),
      );
    const legend = (chart: string) =>
      Object.fromEntries(
        [...document.querySelectorAll(`#${chart} .u-legend .u-series`)]
          .slice(1)
          .map((row) => [
            row.querySelector('.u-label')?.textContent ?? '',
            norm(getComputedStyle(row.querySelector('.u-marker') as HTMLElement).borderColor),
          ]),
      );
    const cards = Object.fromEntries(
      [...document.querySelectorAll<HTMLElement>('#frequency-readouts .readout')].map((c) => [
        c.dataset.island ?? '',
        norm(c.style.getPropertyValue('--c')),
      ]),
    );
    return {
      diagram: { grid: bus('1'), mg1: bus('20'), mg2: bus('24'), mg3: bus('28') },
      frequency: legend('frequency-chart'),
      voltage: legend('voltage-chart'),
      cards,
    };
  });
}

/** Pairs of diagram labels (and the FID box) whose boxes intersect on screen by more than 1 px. */
function overlappingLabels(p: Page) {
  return p.evaluate(() => {
    const boxes = [...document.querySelectorAll<SVGGraphicsElement>('#diagram text, #diagram .fid rect')]
      .filter((el) => el.tagName !== 'text' || (el.textContent ?? '').trim() !== '')
      .map((el) => {
        const r = el.getBoundingClientRect();
        const owner = el.closest<SVGElement>('[data-bus],[data-der],[data-switch],[data-fid],[data-line]');
        const who = owner ? Object.entries(owner.dataset).map(([k, v]) => `${k}=${v}`)[0] : '';
        return { name: `${who} ${el.tagName}:${(el.textContent ?? '').trim()}`, owner, r };
      });
    const pairs: string[] = [];
    // A label pushed out of the drawing is clipped: as bad as one covered.
    const frame = document.querySelector('#diagram')!.getBoundingClientRect();
    for (const { name, r } of boxes)
      if (r.bottom > frame.bottom + 1 || r.top < frame.top - 1) pairs.push(`${name} × the diagram's edge`);
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        // The FID's name inside its own box is meant to be there.
        const owner = boxes[i].owner;
        if (owner && owner === boxes[j].owner && owner.dataset.fid) continue;
        const a = boxes[i].r;
        const b = boxes[j].r;
        const dx = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const dy = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (dx > 1 && dy > 1) pairs.push(`${boxes[i].name} × ${boxes[j].name}`);
      }
    // A line of the network drawn across a label (a tie's leg through a bus label, a feeder through
    // a switch's name): sampled every 2 px along each line's path, in screen coordinates. (A FID's
    // thin dashed path may cross a device label where the drawing is crowded.)
    const texts = boxes.filter((b) => b.name.includes(' text:'));
    const lines = [...document.querySelectorAll<SVGPathElement>('#diagram path.line')];
    for (const line of lines) {
      const ctm = line.getScreenCTM();
      if (!ctm) continue;
      const owner = line.closest<SVGElement>('[data-fid]');
      const name = line.dataset.switchLine
        ? `switch line ${line.dataset.switchLine}`
        : owner
          ? `fid ${owner.dataset.fid} path`
          : `line from ${line.dataset.from}`;
      const length = line.getTotalLength();
      const crossed = new Set<string>();
      for (let at = 0; at <= length; at += 2) {
        const p = new DOMPoint(line.getPointAtLength(at).x, line.getPointAtLength(at).y).matrixTransform(ctm);
        for (const t of texts) {
          // The FID's path runs into its own box, name included, by design.
          if (owner && t.owner === owner) continue;
          const r = t.r;
          if (p.x > r.left + 1 && p.x < r.right - 1 && p.y > r.top + 1 && p.y < r.bottom - 1)
            crossed.add(t.name);
        }
      }
      for (const label of crossed) pairs.push(`${name} × ${label}`);
    }
    return pairs;
  });
}

describe('live page marks', () => {
  it('a microgrid keeps its colour everywhere, before and after islanding it', async () => {
    const before = await coloursShown(page);
    await screenshot(page, 'colours-before-islanding');
    const result = await sendCommand(page, TOKENS.operator, {
      type: 'island',
      microgrid: 'mg1',
      islanded: true,
    });
    expect(result).toMatchObject({ ok: true });
    await page.waitForFunction(
      () => document.querySelector('#diagram [data-bus="20"]')?.getAttribute('data-island') === 'mg1',
    );
    await page.waitForSelector('#frequency-readouts .readout[data-island="mg1"]');
    await page.waitForTimeout(200);
    const after = await coloursShown(page);
    await screenshot(page, 'colours-after-islanding-mg1');

    // Four areas, four distinct colours, the same in the diagram and both charts' legends.
    const areas = ['grid', 'mg1', 'mg2', 'mg3'] as const;
    expect(new Set(areas.map((a) => before.diagram[a])).size).toBe(4);
    for (const shown of [before, after]) {
      for (const area of areas) {
        expect(shown.frequency[area], `frequency legend ${area}`).toBe(shown.diagram[area]);
        expect(shown.voltage[area], `voltage legend ${area}`).toBe(shown.diagram[area]);
      }
    }
    // Nothing moved when MG1 islanded.
    expect(after.diagram).toEqual(before.diagram);
    expect(after.frequency).toEqual(before.frequency);
    expect(after.voltage).toEqual(before.voltage);
    // The readouts: the grid-connected island in the grid's colour, islanded MG1 in its own.
    expect(before.cards['1']).toBe(before.diagram.grid);
    expect(after.cards['1']).toBe(before.diagram.grid);
    expect(after.cards.mg1).toBe(before.diagram.mg1);
    expect(errors).toEqual([]);
  });

  it('an attack shows a banner, the attacked device on the diagram and shaded spans on the charts', async () => {
    expect(await page.locator('#attack-banner').isHidden()).toBe(true);
    const started = await sendCommand(page, TOKENS.admin, {
      type: 'attack',
      action: 'start',
      id: 'a1',
      kind: 'bias',
      target: 'bess-hw.f_hz',
      bias: 0.5,
    });
    expect(started).toMatchObject({ ok: true });
    await page.waitForSelector('#attack-banner:not([hidden])');
    const banner = () => page.textContent('#attack-banner');
    expect(await banner()).toMatch(/ATTACK: bias on bess-hw\.f_hz\s*since t = \d+\.\d s/);
    expect(await banner()).toMatch(/no detector alarm yet/);
    // The attacked device and its bus are marked on the diagram, nothing else.
    const marked = () =>
      page.$$eval('#diagram .attacked', (els) =>
        els.map((el) => (el as SVGElement).dataset.der ?? `bus ${(el as SVGElement).dataset.bus}`).sort(),
      );
    expect(await marked()).toEqual(['bess-hw', 'bus 25']);
    // Every chart shades the attack period.
    await page.waitForFunction(() =>
      Object.values(
        (window as never as { __gridloop: { charts: Record<string, { drawnSpans: number }> } }).__gridloop
          .charts,
      ).every((c) => c.drawnSpans === 1),
    );

    // The χ² detector raises its alarm: the banner says so, and an alarm span starts.
    const t_s = await gridloop<number>(page, 'g.lastState.t_s');
    fixture.server.publishEvent({
      t_s,
      kind: 'alarm',
      message: 'chi2: J = 412.0 > 21.7, largest residual se.vm_pu.25',
      severity: 'alarm',
      source: 'twin',
      target: 'se.vm_pu.25',
      data: { detector: 'chi2', statistic: 412, threshold: 21.7 },
    });
    await page.waitForFunction(() =>
      /detector alarm at/.test(document.querySelector('#attack-banner')?.textContent ?? ''),
    );
    expect(await banner()).toMatch(new RegExp(`detector alarm at t = ${t_s.toFixed(1)} s \\(chi2\\)`));
    await page.waitForFunction(() =>
      Object.values(
        (window as never as { __gridloop: { charts: Record<string, { drawnSpans: number }> } }).__gridloop
          .charts,
      ).every((c) => c.drawnSpans === 2),
    );
    // The χ² chart: the statistic the live state carries, against its threshold, both drawn.
    expect(await page.locator('#detector-figure').isVisible()).toBe(true);
    expect(await gridloop<string[]>(page, 'g.charts.detector.names')).toEqual(['chi2', 'chi2 threshold']);
    await page.waitForFunction(() => {
      const c = (window as never as { __gridloop: { charts: { detector: { columns: number[][] } } } })
        .__gridloop.charts.detector.columns;
      return c[1].at(-1) === 412 && c[2].at(-1) === 21.7;
    });
    expect(
      await page.$$eval('#detector-chart .u-legend .u-series .u-label', (els) =>
        els.map((el) => el.textContent),
      ),
    ).toEqual(['t (s)', 'chi2', 'chi2 threshold']);
    // The shading is really drawn: the plot area has the attack's red under the frequency line.
    await page.waitForTimeout(300);
    await screenshot(page, 'attack-active');

    const stopped = await sendCommand(page, TOKENS.admin, { type: 'attack', action: 'stop', id: 'a1' });
    expect(stopped).toMatchObject({ ok: true });
    await page.waitForSelector('#attack-banner[hidden]', { state: 'attached' });
    expect(await marked()).toEqual([]);
    const spans = () =>
      gridloop<{ kind: string; from_s: number; to_s?: number }[]>(page, 'g.charts.frequency.spans');
    // The attack's period is closed at its end; the alarm's lasts until the detector clears it.
    const ended = await spans();
    expect(ended.map((s) => s.kind)).toEqual(['attack', 'alarm']);
    expect(ended[0].to_s).toBeGreaterThan(ended[0].from_s);
    expect(ended[1]).toEqual({ kind: 'alarm', from_s: t_s });
    const cleared_s = (await gridloop<number>(page, 'g.lastState.t_s')) + 0.5;
    fixture.server.publishEvent({
      t_s: cleared_s,
      kind: 'alarm-cleared',
      message: 'chi2: alarm cleared (14.0 ≤ 21.7)',
      severity: 'info',
      source: 'twin',
      data: { detector: 'chi2', statistic: 14, threshold: 21.7 },
    });
    await page.waitForFunction(
      () =>
        (window as never as { __gridloop: { charts: { frequency: { spans: { to_s?: number }[] } } } })
          .__gridloop.charts.frequency.spans[1]?.to_s !== undefined,
    );
    expect((await spans())[1]).toEqual({ kind: 'alarm', from_s: t_s, to_s: cleared_s });
    await screenshot(page, 'attack-ended');
    expect(errors).toEqual([]);
  });

  it('a link with the token in its fragment signs in, and the token leaves the address bar', async () => {
    const viewer = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    try {
      await viewer.goto(`${fixture.server.url}#token=${TOKENS.viewer}`);
      await viewer.waitForFunction(() => document.querySelector('#role')?.textContent === 'viewer · student');
      expect(viewer.url()).toBe(fixture.server.url);
    } finally {
      await viewer.close();
    }
  });

  it('the answer to a command is in view at 1600×1000, wherever the page is scrolled', async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.click('#controls [data-breaker="pcc2"]');
    await page.waitForFunction(() =>
      /pcc2 (opened|closed)/.test(document.querySelector('#command-feedback')?.textContent ?? ''),
    );
    // Back at the top, where a class watches the diagram (the click scrolled to the button).
    await page.evaluate(() => window.scrollTo(0, 0));
    const box = await page.locator('#command-feedback').boundingBox();
    expect(box).not.toBeNull();
    expect(box!.y).toBeGreaterThanOrEqual(0);
    expect(box!.y + box!.height).toBeLessThanOrEqual(1000);
    await screenshot(page, 'command-feedback-1600x1000');
  });

  it('no two labels of the diagram overlap, in laptop and projector view', async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    expect(await overlappingLabels(page)).toEqual([]);
    await page.click('#display-mode');
    try {
      await page.waitForFunction(() => document.body.classList.contains('projector'));
      await page.waitForTimeout(200);
      await screenshot(page, 'projector-1600x1000');
      expect(await overlappingLabels(page)).toEqual([]);
    } finally {
      await page.click('#display-mode');
    }
  });
});

describe('the demo grid on the live page', () => {
  let demo: FixtureServer;
  let demoPage: Page;
  beforeAll(async () => {
    const loaded = await loadGridFile(join(import.meta.dirname, '..', 'grids/demo-33bw-microgrids.yaml'));
    demo = await startFixtureServer(loaded.grid, {
      hardware: loaded.config.hardware,
      hardwareDevices: ['bess-hw'],
    });
    demoPage = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await demoPage.goto(`${demo.server.url}#token=${TOKENS.operator}`);
    await demoPage.waitForFunction(
      () => (window as never as { __gridloop: { states: number } }).__gridloop.states > 5,
    );
  });
  afterAll(async () => {
    await demoPage?.close();
    await demo?.close();
  });

  // The demo's middle is crowded (ties between rows, three FIDs, stacked DER readings): every
  // label, FID boxes and values included, is checked in both views.
  it('no label is covered or crossed by a line, in laptop and projector view', async () => {
    await demoPage.evaluate(() => window.scrollTo(0, 0));
    await screenshot(demoPage, 'demo-grid-1600x1000');
    await demoPage.locator('#diagram').screenshot({ path: join(artifactsDir, 'demo-diagram-laptop.png') });
    const laptop = await overlappingLabels(demoPage);
    await demoPage.click('#display-mode');
    try {
      await demoPage.waitForFunction(() => document.body.classList.contains('projector'));
      await demoPage.waitForTimeout(200);
      await screenshot(demoPage, 'demo-grid-projector-1600x1000');
      await demoPage
        .locator('#diagram')
        .screenshot({ path: join(artifactsDir, 'demo-diagram-projector.png') });
      expect({ laptop, projector: await overlappingLabels(demoPage) }).toEqual({ laptop: [], projector: [] });
    } finally {
      await demoPage.click('#display-mode');
      await demoPage.waitForFunction(() => !document.body.classList.contains('projector'));
    }
  });

  it('the microgrid select names microgrids as the diagram does, with their state now', async () => {
    const options = () =>
      demoPage.$$eval('#microgrid-select option', (els) => els.map((o) => o.textContent ?? ''));
    expect(await options()).toEqual([
      'MG1 – Feeder head · grid-connected',
      'MG2 – Main trunk · islanded',
      'MG3 – Lateral 26-33 · islanded',
    ]);
    // The same ids label the frequency legend.
    const legend = await demoPage.$$eval('#frequency-chart .u-legend .u-series .u-label', (els) =>
      els.slice(1).map((el) => el.textContent),
    );
    for (const id of ['MG1', 'MG2', 'MG3']) expect(legend).toContain(id);
    expect(
      await sendCommand(demoPage, TOKENS.operator, { type: 'island', microgrid: 'MG1', islanded: true }),
    ).toMatchObject({ ok: true });
    await demoPage.waitForFunction(() =>
      /^MG1 – Feeder head · islanded$/.test(
        document.querySelector('#microgrid-select option')?.textContent ?? '',
      ),
    );
  });
});
