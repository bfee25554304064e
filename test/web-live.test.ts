/**
 * The live page in headless chromium against a real server (see web-fixture.ts for the state
 * source): it loads and draws the diagram, its charts advance, a viewer cannot act, and an
 * operator's breaker click reaches the server and the diagram shows the split. Screenshots go to
 * test-artifacts/web/.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TOKENS } from './socket-api-helpers.ts';
import { launchChromium, screenshot, watchErrors } from './web-browser.ts';
import { type FixtureServer, startFixtureServer } from './web-fixture.ts';

let browser: Browser;
let fixture: FixtureServer;
const pages: Page[] = [];

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  for (const page of pages.splice(0)) await page.close();
  await fixture?.close();
});

async function open(token: string | undefined, viewport = { width: 1440, height: 900 }) {
  fixture = await startFixtureServer();
  const page = await browser.newPage({ viewport });
  pages.push(page);
  const errors = watchErrors(page);
  await page.goto(token === undefined ? fixture.server.url : `${fixture.server.url}?token=${token}`);
  return { page, errors };
}

const gridloop = <T>(page: Page, pick: string) =>
  page.evaluate(
    (expr) => new Function('g', `return ${expr}`)((window as never as { __gridloop: unknown }).__gridloop),
    pick,
  ) as Promise<T>;

describe('live page', () => {
  it('loads and draws the single-line diagram of the grid', async () => {
    const { page, errors } = await open(TOKENS.viewer);
    await page.waitForSelector('#diagram .bus');
    await page.waitForFunction(
      () => (window as never as { __gridloop: { states: number } }).__gridloop.states > 5,
    );
    const counts = await page.evaluate(() => ({
      buses: document.querySelectorAll('#diagram .bus').length,
      switches: document.querySelectorAll('#diagram .switch').length,
      ders: document.querySelectorAll('#diagram .der').length,
      fids: document.querySelectorAll('#diagram .fid').length,
      mainGrid: document.querySelectorAll('#diagram .main-grid').length,
      derText: document.querySelector('#diagram [data-der="bess22"]')?.textContent ?? '',
    }));
    expect(counts).toMatchObject({
      buses: fixture.topology.buses.length,
      // Three PCC breakers plus case33bw's five normally-open tie lines, drawn as open breakers.
      switches: 8,
      ders: 6,
      fids: 1,
      mainGrid: 1,
    });
    expect(fixture.topology.buses.length).toBe(33);
    expect(counts.derText).toMatch(/bess22\d\.\d{3} MWSoC 62%/);
    // Every bus has a colour from its island, and the FID shows its transfer.
    const uncoloured = await page.$$eval(
      '#diagram .bus',
      (els) => els.filter((el) => !(el as SVGGElement).style.getPropertyValue('--c')).length,
    );
    expect(uncoloured).toBe(0);
    expect(await page.textContent('#diagram .fid-value')).toMatch(/\d\.\d{3} MW/);
    expect(await page.textContent('#role')).toBe('viewer · student');
    await screenshot(page, 'viewer-laptop');
    expect(errors).toEqual([]);
  });

  it('the charts advance with twin time', async () => {
    const { page, errors } = await open(TOKENS.viewer);
    await page.waitForFunction(
      () => (window as never as { __gridloop: { states: number } }).__gridloop.states > 3,
    );
    const first = await gridloop<{ n: number; t: number }[]>(
      page,
      '["frequency","voltage","fid","loop"].map((k) => ({ n: g.charts[k].length, t: g.charts[k].lastTime }))',
    );
    await page.waitForTimeout(1000);
    const later = await gridloop<{ n: number; t: number }[]>(
      page,
      '["frequency","voltage","fid","loop"].map((k) => ({ n: g.charts[k].length, t: g.charts[k].lastTime }))',
    );
    for (let i = 0; i < 4; i++) {
      expect(later[i].n).toBeGreaterThan(first[i].n + 5);
      expect(later[i].t).toBeGreaterThan(first[i].t + 0.3);
    }
    // Frequency, voltage, FID, loop, and the detector's χ² chart (the fixture streams a detector).
    expect(await page.locator('#charts figure:not([hidden]) canvas').count()).toBe(5);
    // uPlot draws into the canvas: the frequency chart is not blank.
    const inked = await page.$eval('#frequency-chart canvas', (canvas) => {
      const c = canvas as HTMLCanvasElement;
      const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let lit = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) lit++;
      return lit;
    });
    expect(inked).toBeGreaterThan(500);
    expect(errors).toEqual([]);
  });

  it('a viewer cannot act: no controls, inert breakers, and crafted commands are refused', async () => {
    const { page, errors } = await open(TOKENS.viewer);
    await page.waitForSelector('#diagram .switch');
    expect(await page.locator('#controls').isHidden()).toBe(true);
    expect(await page.locator('#controls button').count()).toBe(0);
    expect(await page.locator('#emergency-stop').count()).toBe(0);
    await page.click('[data-switch="pcc3"]');
    await page.waitForTimeout(300);
    expect(fixture.audit.filter((e) => e.action === 'command')).toEqual([]);
    // A viewer who opens the console and speaks socket.io directly is refused too.
    const result = await page.evaluate(async (token) => {
      const socket = (
        window as never as {
          io: (o: object) => {
            emitWithAck: (...a: unknown[]) => Promise<unknown>;
            close(): void;
            once(e: string, f: () => void): void;
          };
        }
      ).io({
        transports: ['websocket'],
        auth: { token },
        forceNew: true,
      });
      await new Promise<void>((resolve) => socket.once('welcome', resolve));
      const answer = await socket.emitWithAck('command', { type: 'breaker', id: 'pcc3', closed: false });
      socket.close();
      return answer;
    }, TOKENS.viewer);
    expect(result).toMatchObject({ ok: false, code: 'forbidden' });
    expect(fixture.audit.filter((e) => e.action === 'command')).toMatchObject([
      { result: 'rejected', code: 'forbidden', actor: { role: 'viewer' } },
    ]);
    expect(await page.getAttribute('[data-switch="pcc3"]', 'data-closed')).toBe('true');
    expect(errors).toEqual([]);
  });

  it('an admin rotates the viewer token from the page and gets a new viewer link', async () => {
    const { page, errors } = await open(TOKENS.admin);
    await page.waitForSelector('#controls:not([hidden])');
    await page.selectOption('select[name="rotate-role"]', 'viewer');
    await page.click('text=rotate token');
    await page.waitForFunction(() =>
      /#token=/.test(document.querySelector('#rotated-token')?.textContent ?? ''),
    );
    const link = (await page.textContent('#rotated-token'))!;
    expect(link.startsWith(fixture.server.url)).toBe(true);
    const viewer = await browser.newPage();
    pages.push(viewer);
    await viewer.goto(link);
    await viewer.waitForFunction(() => document.querySelector('#role')?.textContent?.startsWith('viewer'));
    const stale = await browser.newPage();
    pages.push(stale);
    await stale.goto(`${fixture.server.url}?token=${TOKENS.viewer}`);
    await stale.waitForFunction(() =>
      /Access refused/.test(document.querySelector('#login-reason')?.textContent ?? ''),
    );
    expect(JSON.stringify(fixture.audit)).not.toContain(link.split('token=')[1]);
    expect(errors).toEqual([]);
  });

  it('the timeline shows alarms, and a repeating message once with a count', async () => {
    const { page, errors } = await open(TOKENS.viewer);
    await page.waitForSelector('#diagram .bus');
    for (let i = 0; i < 5; i++) {
      fixture.server.publishEvent({
        t_s: 1 + i,
        kind: 'link',
        message: 'bess-hw: 3 exchanges without an answer',
        severity: 'warning',
        source: 'bench',
      });
    }
    fixture.server.publishEvent({
      t_s: 7,
      kind: 'der-trip',
      message: 'pv21 tripped: UF1',
      severity: 'alarm',
      source: 'twin',
    });
    await page.waitForFunction(() => document.querySelectorAll('#timeline .event').length === 2);
    const lines = await page.$$eval('#timeline .event', (els) =>
      els.map((el) => ({
        text: el.querySelector('.event-text')?.textContent?.trim(),
        alarm: el.classList.contains('alarm'),
      })),
    );
    expect(lines).toEqual([
      { text: 'pv21 tripped: UF1', alarm: true },
      { text: 'bess-hw: 3 exchanges without an answer ×5', alarm: false },
    ]);
    expect(errors).toEqual([]);
  });

  it('asks for a token when the link has none, and says why a wrong one is refused', async () => {
    const { page } = await open(undefined);
    await page.waitForSelector('#login:not([hidden])');
    expect(await page.textContent('#login-reason')).toMatch(/needs an access token/);
    await page.fill('#login-token', 'a-wrong-token-123456');
    await page.click('#login button');
    await page.waitForFunction(() =>
      /Access refused/.test(document.querySelector('#login-reason')?.textContent ?? ''),
    );
    await page.fill('#login-token', TOKENS.operator);
    await page.click('#login button');
    await page.waitForSelector('#controls:not([hidden])');
    // The token never stays in the address bar.
    expect(page.url()).not.toContain('token');
  });

  it('an operator opens a breaker from the diagram and sees the microgrid split off', async () => {
    const { page, errors } = await open(TOKENS.operator);
    await page.waitForSelector('#controls:not([hidden])');
    expect(page.url()).not.toContain(TOKENS.operator);
    const islandOf = (bus: string) => page.getAttribute(`#diagram [data-bus="${bus}"]`, 'data-island');
    await page.waitForFunction(
      () => (window as never as { __gridloop: { states: number } }).__gridloop.states > 3,
    );
    expect(await islandOf('30')).toBe(await islandOf('1'));
    await screenshot(page, 'operator-before');
    await page.click('[data-switch="pcc3"]');
    await page.waitForFunction(() =>
      /breaker pcc3 opened/.test(document.querySelector('#command-feedback')?.textContent ?? ''),
    );
    await page.waitForFunction(
      () => document.querySelector('#diagram [data-bus="30"]')?.getAttribute('data-island') === 'mg3',
    );
    expect(await islandOf('26')).toBe('mg3');
    expect(await islandOf('1')).toBe('1');
    expect(await page.getAttribute('[data-switch="pcc3"]', 'data-closed')).toBe('false');
    const colours = await page.evaluate(() =>
      ['1', '30'].map((b) =>
        (document.querySelector(`#diagram [data-bus="${b}"]`) as SVGGElement).style.getPropertyValue('--c'),
      ),
    );
    expect(colours[0]).not.toBe(colours[1]);
    await page.waitForFunction(() => {
      const cards = Array.from(document.querySelectorAll('#frequency-readouts .readout'));
      const mg3 = cards.find((c) => (c as HTMLElement).dataset.island === 'mg3');
      return mg3 && Number.parseFloat(mg3.querySelector('.value')?.textContent ?? '50') < 49.9;
    });
    expect(await page.locator('#timeline').textContent()).toMatch(/engineer: breaker pcc3 opened/);
    expect(fixture.audit.filter((e) => e.action === 'command')).toMatchObject([
      {
        result: 'ok',
        actor: { role: 'operator', name: 'engineer' },
        command: { type: 'breaker', id: 'pcc3', closed: false },
      },
    ]);
    await screenshot(page, 'operator-after-open');
    await page.click('#display-mode');
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.waitForTimeout(300);
    await screenshot(page, 'operator-projector-1280x720');
    expect(errors).toEqual([]);
  });
});
