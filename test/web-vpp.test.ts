/**
 * The live page's VPP panel (operator view) and a prosumer's own panel, in headless chromium
 * against a real live server fed VPP telemetry through the server's own view builders
 * (bench/server/vpp-views.ts). Screenshots go to test-artifacts/web/.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ProsumerPreferences } from '../bench/server/api.ts';
import { type LiveServer, startLiveServer } from '../bench/server/live-server.ts';
import { ProsumerFeed, vppLiveViewOf } from '../bench/server/vpp-views.ts';
import type { VppTelemetry } from '../vpp/telemetry.ts';
import { launchChromium, screenshot, watchErrors } from './web-browser.ts';

const TOKENS = { operator: 'operator-token-0123456789', house24: 'house-24-token-0123456789' };

let browser: Browser;
let server: LiveServer;
let timer: NodeJS.Timeout | undefined;
/** The fixture's twin time; each test starts it again at 0 (a new run, as the page sees it). */
let t_s = 0;
const received: { prosumer: string; preferences: ProsumerPreferences }[] = [];
const pages: Page[] = [];

/** A VPP decision at `t_s`: target steps from 1.0 to 1.3 MW at 3 s, members delivering close to it. */
function telemetry(t_s: number): VppTelemetry {
  const target = t_s < 3 ? 1.0 : 1.3;
  const m = (id: string, setpoint: number, measured: number, extra: object = {}) => ({
    id,
    kind: 'der' as const,
    operator: 'op-mg1',
    setpoint_mw: setpoint,
    measured_mw: measured,
    tracking_error_mw: measured - setpoint,
    pmin_mw: -0.5,
    pmax_mw: 0.6,
    ...extra,
  });
  const lag = t_s < 3.5 && t_s >= 3 ? 0.8 : 1;
  const members = [
    m('chp-4', 0.3, 0.31),
    m('pv-24', 0.43, 0.43, { prosumer: 'house-24' }),
    m('load-24', 0, 0, { prosumer: 'house-24', kind: 'load' }),
    m('bess-25', target - 0.8, (target - 0.8) * lag, { prosumer: 'house-25', soc: 0.6 }),
    m('bess-hw', 0.06, 0.055, { prosumer: 'lab-hw', hardware: true }),
  ];
  return {
    kind: 'vpp',
    vpp: 'live',
    t_s,
    target_mw: target,
    delivered_mw: members.reduce((s, x) => s + x.measured_mw, 0),
    price_per_mwh: t_s < 3 ? 39.79 : 78.75,
    ok: true,
    solve_ms: 0.4,
    flexibility: {
      pmin_mw: -0.3,
      pmax_mw: 1.89,
      ramp_mw_s: null,
      stored_energy_mwh: 0.5,
      storage_room_mwh: 0.35,
      members_online: 5,
      members: 5,
    },
    members,
    preferences: {},
  };
}

beforeAll(async () => {
  browser = await launchChromium();
  server = await startLiveServer({
    port: 0,
    tokens: [
      { role: 'operator', token: TOKENS.operator, name: 'engineer' },
      { role: 'prosumer', token: TOKENS.house24, prosumer: 'house-24', name: 'Ada (house 24)' },
    ],
    onPreferences: async (prosumer, preferences) => {
      received.push({ prosumer, preferences });
      return `preferences of ${prosumer} sent to the VPP`;
    },
  });
  const feed = new ProsumerFeed();
  timer = setInterval(() => {
    // The clock runs while a page is connected, from 0 for each page (so it sees the target step).
    const connected = server.clients();
    if (connected.operator + connected.prosumer === 0) return;
    t_s += 0.25;
    const t = telemetry(t_s);
    feed.absorb(t);
    server.publishVpp(vppLiveViewOf(t));
    for (const id of feed.prosumers()) server.publishProsumer(feed.viewOf(id)!);
  }, 100);
});
afterAll(async () => {
  clearInterval(timer);
  await server?.close();
  await browser?.close();
});
afterEach(async () => {
  for (const page of pages.splice(0)) await page.close();
});

async function open(token: string) {
  t_s = 0;
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  pages.push(page);
  const errors = watchErrors(page);
  await page.goto(`${server.url}#token=${token}`);
  return { page, errors };
}

describe('live page: VPP', () => {
  it('the operator sees aggregate flexibility, target against delivered, and each member’s contribution', async () => {
    const { page, errors } = await open(TOKENS.operator);
    await page.waitForSelector('#vpp:not([hidden]) .vpp-members tbody tr');
    // Past the target step, so the chart holds both levels.
    await page.waitForFunction('(window.__gridloop.vpp.last?.t_s ?? 0) > 4', undefined, { timeout: 20_000 });
    const summary = await page.textContent('#vpp .vpp-summary');
    expect(summary).toMatch(
      /^target 1\.300 MW · delivered 1\.\d{3} MW · price 78\.75 \/MWh · 5\/5 members online/,
    );
    const rows = await page.$$eval('#vpp .vpp-members tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
    );
    expect(rows.map((r) => r[0])).toEqual(['chp-4', 'pv-24', 'load-24', 'bess-25', 'bess-hw (hardware)']);
    const bess25 = rows.find((r) => r[0] === 'bess-25')!;
    // Set-point 1.3 − 0.8 = 0.5 MW, delivered in full once the lag is over.
    expect(bess25.slice(1, 5)).toEqual(['house-25', '0.500', '0.500', '0.000']);
    // Shares of delivered add up to 100 % (rounding aside): 0.5 / (0.31 + 0.43 + 0 + 0.5 + 0.055).
    expect(bess25[5]).toBe(`${Math.round((100 * 0.5) / 1.295)} %`);
    // The flexibility bar spans −0.3…1.89 MW with the target mark inside it.
    const flex = await page.$eval('#vpp .vpp-flex', (el) => {
      const box = (sel: string) => el.querySelector(sel)!.getBoundingClientRect();
      return {
        range: box('.vpp-flex-range'),
        target: box('.target'),
        lo: el.querySelector('.lo')!.textContent,
      };
    });
    expect(flex.lo).toBe('-0.30 MW');
    expect(flex.target.left).toBeGreaterThan(flex.range.left);
    expect(flex.target.left).toBeLessThan(flex.range.right);
    // Target and delivered over time, both levels of the target step drawn.
    const chart = (await page.evaluate(
      '({ names: window.__gridloop.vpp.chart.names, target: [...new Set(window.__gridloop.vpp.chart.columns[1])] })',
    )) as { names: string[]; target: number[] };
    expect(chart.names).toEqual(['target', 'delivered']);
    expect(chart.target).toEqual([1, 1.3]);
    expect(await page.locator('#vpp canvas').count()).toBe(1);
    // Operators do not get the prosumer panel.
    expect(await page.isHidden('#prosumer')).toBe(true);
    await screenshot(page, 'vpp-operator');
    expect(errors).toEqual([]);
  });

  it('a prosumer sees only its own units, price and schedule, and sets its preferences from the page', async () => {
    const { page, errors } = await open(TOKENS.house24);
    await page.waitForSelector('#prosumer:not([hidden]) .prosumer-units tbody tr').catch(async (err) => {
      throw new Error(
        `${err.message}; page errors: ${errors.join('; ')}; ${await page.content()}`.slice(0, 3000),
      );
    });
    expect(await page.textContent('#prosumer h2')).toBe('My energy house-24');
    const units = await page.$$eval('#prosumer .prosumer-units tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
    );
    expect(units).toEqual([
      ['pv-24', '0.430 MW', '0.430 MW', ''],
      ['load-24', '0.000 MW', '0.000 MW', ''],
    ]);
    expect(await page.textContent('#prosumer .prosumer-meter')).toMatch(
      /^meter 0\.430 MW \(exporting\) · price \d+\.\d\d \/MWh$/,
    );
    // The whole bench's parts are not shown, and the VPP panel never fills.
    for (const id of ['#overview', '#charts', '#lower', '#vpp'])
      expect(await page.isHidden(id), id).toBe(true);

    await page.fill('#prosumer input[name="start_h"]', '18');
    await page.fill('#prosumer input[name="end_h"]', '22');
    await page.fill('#prosumer input[name="reserve"]', '30');
    await page.check('#prosumer input[name="opt_out"]');
    await page.click('#prosumer button[type="submit"]');
    await page.waitForSelector('#prosumer .prosumer-result[data-ok="true"]');
    expect(await page.textContent('#prosumer .prosumer-result')).toBe(
      'preferences of house-24 sent to the VPP',
    );
    expect(received.at(-1)).toEqual({
      prosumer: 'house-24',
      preferences: { flexible_window: { start_h: 18, end_h: 22 }, battery_reserve: 0.3, opt_out: true },
    });
    // A window the server refuses comes back with its reason.
    await page.fill('#prosumer input[name="end_h"]', '30');
    await page.click('#prosumer button[type="submit"]');
    await page.waitForSelector('#prosumer .prosumer-result[data-ok="false"]');
    expect(await page.textContent('#prosumer .prosumer-result')).toMatch(
      /^refused: preferences\/flexible_window\/end_h: must be an hour of day within 0…24, got 30$/,
    );
    await page.fill('#prosumer input[name="end_h"]', '22');
    await screenshot(page, 'vpp-prosumer');
    expect(errors).toEqual([]);
  });
});
