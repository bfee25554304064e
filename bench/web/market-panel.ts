// The P2P market as its operator sees it (the `market` event, after each interval's news): the
// order book of the latest interval as supply and demand curves, the clearing price of each
// microgrid per interval, the trades, each FID's delivered against cleared energy, and every
// participant's account on the ledger. Energy is shown in kWh, money in units (the market counts
// Wh and micro-units: docs/market.md "Units").
import type { MarketIntervalTelemetry, MarketLiveView } from '../server/api.ts';
import { PALETTE } from './colours.ts';
import { drawStepChart, type StepSeries } from './step-chart.ts';

export const kwh = (wh: number | null) => (wh === null ? '—' : (wh / 1000).toFixed(2));
export const money = (micro: number) => (micro / 1e6).toFixed(2);

/** A table row of text cells. */
export function row(cells: (string | number)[], data?: Record<string, string>): HTMLTableRowElement {
  const tr = document.createElement('tr');
  for (const c of cells) tr.insertCell().textContent = String(c);
  Object.assign(tr.dataset, data ?? {});
  return tr;
}

/** The interval's span as twin time, e.g. `60–120 s`. */
export const span = (start: number, interval_s: number) => `${start}–${start + interval_s} s`;

/**
 * The book as two staircases: asks from the cheapest up (supply), bids from the dearest down
 * (demand); x is the energy offered or wanted so far (kWh), y the limit price. Where they cross
 * is where the clearing trades (across microgrids the FIDs' ratings may stop it short).
 */
export function bookCurves(i: MarketIntervalTelemetry): { supply: StepSeries; demand: StepSeries } {
  const curve = (side: 'sell' | 'buy', name: string, colour: string): StepSeries => {
    const orders = i.orders
      .filter((o) => o.side === side && o.qty_wh > 0)
      .sort((a, b) => (side === 'sell' ? a.limit - b.limit : b.limit - a.limit));
    const points: [number, number][] = [];
    let total = 0;
    for (const o of orders) {
      points.push([total / 1000, o.limit]);
      total += o.qty_wh;
    }
    return { name, colour, points, xEnd: total / 1000 };
  };
  return {
    supply: curve('sell', 'supply (asks)', '#3ecf8e'),
    demand: curve('buy', 'demand (bids)', '#f25f5c'),
  };
}

export class MarketPanel {
  /** The last view shown, and what the charts were drawn from (the browser tests read them). */
  last: MarketLiveView | null = null;
  book: { intervalStart_s: number; supply: StepSeries; demand: StepSeries } | null = null;
  prices: StepSeries[] = [];
  private readonly colours = new Map<string, string>();

  constructor(private readonly el: HTMLElement) {
    el.innerHTML = `
      <h2>P2P market <span class="market-id"></span></h2>
      <p class="market-summary" aria-live="polite"></p>
      <div class="market-charts">
        <figure><figcaption class="market-book-caption">Order book</figcaption>
          <svg class="market-book" role="img" aria-label="Order book: supply and demand curves"></svg></figure>
        <figure><figcaption>Clearing price per interval (/MWh)</figcaption>
          <svg class="market-prices" role="img" aria-label="Clearing price of each microgrid per interval"></svg></figure>
      </div>
      <h3>Trades <span class="market-trades-caption"></span></h3>
      <table class="market-trades">
        <thead><tr><th>participant</th><th>microgrid</th><th>side</th><th>limit (/MWh)</th><th>traded (kWh)</th>
        <th>with the grid (kWh)</th><th>price (/MWh)</th><th>amount</th></tr></thead><tbody></tbody>
      </table>
      <h3>FIDs: delivered against cleared</h3>
      <table class="market-fids">
        <thead><tr><th>interval</th><th>FID</th><th>cleared (kWh, A→B)</th><th>delivered (kWh)</th><th>error</th><th>note</th></tr></thead>
        <tbody></tbody>
      </table>
      <h3>Ledger accounts</h3>
      <table class="market-accounts">
        <thead><tr><th>participant</th><th>prosumer</th><th>balance</th><th>deposit</th><th>penalties</th><th>debt</th><th>reputation</th></tr></thead>
        <tbody></tbody>
      </table>`;
  }

  update(view: MarketLiveView): void {
    this.last = view;
    this.el.hidden = false;
    // The controller's id, when the run names it otherwise than `market`.
    this.el.querySelector('.market-id')!.textContent = view.market === 'market' ? '' : view.market;
    this.summarise(view);
    this.drawBook(view);
    this.drawPrices(view);
    this.fillTrades(view);
    this.fillFids(view);
    this.fillAccounts(view);
  }

  /** The same colour for a microgrid in every chart of the panel. */
  private colourOf(microgrid: string): string {
    if (!this.colours.has(microgrid))
      this.colours.set(microgrid, PALETTE[(this.colours.size + 1) % PALETTE.length]);
    return this.colours.get(microgrid)!;
  }

  /** The interval the tables and the book show: the newest one with a clearing. */
  private shown(view: MarketLiveView): MarketIntervalTelemetry | undefined {
    return [...view.intervals].reverse().find((i) => i.prices.length > 0);
  }

  private summarise(view: MarketLiveView): void {
    const i = this.shown(view);
    const l = view.ledger;
    const ledger =
      l.state === 'live'
        ? `ledger: ${l.settled} intervals settled on ${l.authorities} authorities, ${l.blocks} blocks`
        : l.state === 'failed'
          ? `ledger failed: ${l.reason ?? ''}`
          : `ledger ${l.state}`;
    const prices = i ? i.prices.map((p) => `${p.microgrid} ${p.price}`).join(' · ') : '';
    this.el.querySelector('.market-summary')!.textContent = i
      ? `interval ${span(i.intervalStart_s, view.interval_s)} (${i.state}) · price ${prices} /MWh · ` +
        `traded ${kwh(i.volume_wh)} kWh · ${ledger}`
      : `no interval cleared yet · ${ledger}`;
  }

  private drawBook(view: MarketLiveView): void {
    const i = this.shown(view);
    if (!i) return;
    const { supply, demand } = bookCurves(i);
    this.book = { intervalStart_s: i.intervalStart_s, supply, demand };
    this.el.querySelector('.market-book-caption')!.textContent =
      `Order book of ${span(i.intervalStart_s, view.interval_s)}, all microgrids (limit price /MWh against kWh)`;
    drawStepChart(this.el.querySelector('.market-book') as SVGSVGElement, [supply, demand], {
      xLabel: 'energy (kWh)',
      yLabel: '/MWh',
      marks: i.prices.map((p) => ({
        name: `price ${p.microgrid} ${p.price}`,
        y: p.price,
        colour: this.colourOf(p.microgrid),
      })),
    });
  }

  private drawPrices(view: MarketLiveView): void {
    const microgrids = [...new Set(view.history.flatMap((h) => Object.keys(h.prices)))].sort();
    const end = (view.history.at(-1)?.intervalStart_s ?? 0) + view.interval_s;
    this.prices = microgrids.map((mg) => ({
      name: mg,
      colour: this.colourOf(mg),
      points: view.history
        .filter((h) => h.prices[mg] !== undefined)
        .map((h) => [h.intervalStart_s, h.prices[mg]!] as [number, number]),
      xEnd: end,
    }));
    drawStepChart(this.el.querySelector('.market-prices') as SVGSVGElement, this.prices, {
      xLabel: 'twin time (s)',
      yLabel: '/MWh',
    });
  }

  private fillTrades(view: MarketLiveView): void {
    const i = this.shown(view);
    this.el.querySelector('.market-trades-caption')!.textContent = i
      ? `of ${span(i.intervalStart_s, view.interval_s)}`
      : '';
    const rows = (i?.orders ?? [])
      .filter((o) => o.filled_wh > 0)
      .map((o) =>
        row(
          [
            o.participant,
            o.microgrid,
            o.side,
            o.limit,
            kwh(o.filled_wh),
            kwh(o.qty_wh - o.filled_wh),
            o.price,
            money(o.amount),
          ],
          { order: o.id },
        ),
      );
    this.el.querySelector('.market-trades tbody')!.replaceChildren(...rows);
  }

  private fillFids(view: MarketLiveView): void {
    const rows = view.intervals.flatMap((i) =>
      i.fids.map((f) => {
        const error =
          f.delivered_wh === null || f.cleared_wh === 0
            ? '—'
            : `${((100 * Math.abs(f.delivered_wh - f.cleared_wh)) / Math.abs(f.cleared_wh)).toFixed(1)} %`;
        return row(
          [
            span(i.intervalStart_s, view.interval_s),
            f.fid,
            kwh(f.cleared_wh),
            kwh(f.delivered_wh),
            error,
            f.binding ? (f.message ?? 'at its rating') : '',
          ],
          { fid: f.fid, interval: String(i.intervalStart_s) },
        );
      }),
    );
    this.el.querySelector('.market-fids tbody')!.replaceChildren(...rows);
  }

  private fillAccounts(view: MarketLiveView): void {
    const rows = Object.entries(view.ledger.accounts)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([id, a]) =>
        row(
          [
            id,
            view.participants[id]?.prosumer ?? '',
            money(a.balance),
            money(a.deposit),
            money(a.penalties),
            money(a.debt),
            a.reputation,
          ],
          { participant: id },
        ),
      );
    this.el.querySelector('.market-accounts tbody')!.replaceChildren(...rows);
  }
}
