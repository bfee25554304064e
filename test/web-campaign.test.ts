/**
 * The live page's Campaign panel in real headless Chromium: hidden on a bench without a campaign,
 * shown with the counts, rate and time left once campaign progress arrives (late joiners from the
 * welcome), and "finished" at the end.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveServer, startLiveServer } from '../bench/server/live-server.ts';
import { accessTokens, TOKENS } from './socket-api-helpers.ts';
import { launchChromium, screenshot, watchErrors } from './web-browser.ts';

let browser: Browser;
let server: LiveServer;

beforeAll(async () => {
  [browser, server] = await Promise.all([
    launchChromium(),
    startLiveServer({ port: 0, tokens: accessTokens }),
  ]);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const progress = { campaign: 'sweep', total: 10, failed: 0, skipped: 0, elapsed_s: 4 };

describe('live page: campaign progress', () => {
  it('shows the campaign panel when progress arrives, with counts, rate and time left', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors = watchErrors(page);
    try {
      await page.goto(`${server.url}#token=${TOKENS.viewer}`);
      await page.waitForFunction(() => document.querySelector('#role')?.textContent === 'viewer · student');
      // No campaign: no panel.
      expect(await page.locator('#campaign').count()).toBe(0);
      server.publishCampaign({ ...progress, done: 3, failed: 1, running: 2, rate: 0.75, eta_s: 9.3 });
      await page.waitForFunction(() =>
        /3\/10 done/.test(document.querySelector('#campaign-line')?.textContent ?? ''),
      );
      expect(await page.locator('#campaign-line').textContent()).toBe(
        '3/10 done (1 failed), 2 running · 0.75 runs/s · about 9 s left',
      );
      expect(await page.locator('#campaign-name').textContent()).toBe('sweep');
      expect(await page.locator('#campaign-bar').evaluate((e) => (e as HTMLProgressElement).value)).toBe(3);
      await screenshot(page, 'campaign-progress');

      // A late joiner sees the latest counts from its welcome.
      const late = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      try {
        await late.goto(`${server.url}#token=${TOKENS.viewer}`);
        await late.waitForFunction(() =>
          /3\/10 done/.test(document.querySelector('#campaign-line')?.textContent ?? ''),
        );
      } finally {
        await late.close();
      }

      server.publishCampaign({ ...progress, done: 10, failed: 1, running: 0, rate: 0.8, eta_s: 0 });
      await page.waitForFunction(() =>
        /finished/.test(document.querySelector('#campaign-line')?.textContent ?? ''),
      );
      expect(await page.locator('#campaign-line').textContent()).toBe(
        '10/10 done (1 failed), 0 running · 0.80 runs/s · finished',
      );
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 120_000);
});
