/**
 * What a class comes to see on the live page, in headless chromium against a real server (the
 * scripted fixture of web-fixture.ts): every area keeps its colour when the topology changes, and
 * an attack is visible while it lasts. One browser and one server for the file; screenshots go to
 * test-artifacts/web/.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKENS } from './socket-api-helpers.ts';
import { launchChromium, screenshot, watchErrors } from './web-browser.ts';
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

describe('live page marks', () => {
  it('a microgrid keeps its colour everywhere, before and after islanding it', async () => {
    const before = await coloursShown(page);
    await screenshot(page, 'colours-before-islanding');
    const result = await page.evaluate(async (token) => {
      const w = window as never as {
        io: (o: object) => {
          emitWithAck: (...a: unknown[]) => Promise<unknown>;
          close(): void;
          once(e: string, f: () => void): void;
        };
      };
      const socket = w.io({ transports: ['websocket'], auth: { token }, forceNew: true });
      await new Promise<void>((resolve) => socket.once('welcome', resolve));
      const answer = await socket.emitWithAck('command', {
        type: 'island',
        microgrid: 'mg1',
        islanded: true,
      });
      socket.close();
      return answer;
    }, TOKENS.operator);
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
});
