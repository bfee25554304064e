// A prosumer's own part of the P2P market (the `market` field of its `prosumer` view): its account on
// the ledger (balance, deposit, penalties), its trades, and what its meters delivered against what
// it sold or bought. The server sends it nothing about anyone else.
import type { ProsumerMarketView } from '../server/api.ts';
import { kwh, money, row, span } from './market-panel.ts';

export class ProsumerMarketPanel {
  /** The last view shown (the browser tests read it). */
  last: ProsumerMarketView | null = null;

  constructor(private readonly el: HTMLElement) {
    el.innerHTML = `
      <h2>My market</h2>
      <p class="my-market-summary" aria-live="polite"></p>
      <table class="my-accounts">
        <thead><tr><th>unit</th><th>balance</th><th>deposit</th><th>penalties</th><th>debt</th><th>reputation</th></tr></thead>
        <tbody></tbody>
      </table>
      <h3>My trades</h3>
      <table class="my-trades">
        <thead><tr><th>interval</th><th>unit</th><th>side</th><th>my limit (/MWh)</th><th>traded (kWh)</th>
        <th>price (/MWh)</th><th>amount</th></tr></thead><tbody></tbody>
      </table>
      <h3>My deliveries</h3>
      <table class="my-deliveries">
        <thead><tr><th>interval</th><th>unit</th><th>promised (kWh)</th><th>metered (kWh)</th><th>off by (kWh)</th><th>state</th></tr></thead>
        <tbody></tbody>
      </table>`;
  }

  update(view: ProsumerMarketView): void {
    this.last = view;
    this.el.hidden = false;
    const accounts = Object.values(view.accounts);
    const total = (key: 'balance' | 'deposit' | 'penalties') => accounts.reduce((s, a) => s + a[key], 0);
    const latest = [...view.intervals].reverse().find((i) => Object.keys(i.prices).length > 0);
    const price = latest
      ? ` · price now ${Object.entries(latest.prices)
          .map(([mg, p]) => `${p} /MWh in ${mg}`)
          .join(', ')}`
      : '';
    this.el.querySelector('.my-market-summary')!.textContent =
      accounts.length > 0
        ? `balance ${money(total('balance'))} · deposit ${money(total('deposit'))} · penalties ${money(total('penalties'))}${price}`
        : `ledger ${view.ledger.state}${price}`;
    this.el.querySelector('.my-accounts tbody')!.replaceChildren(
      ...Object.entries(view.accounts).map(([id, a]) =>
        row([id, money(a.balance), money(a.deposit), money(a.penalties), money(a.debt), a.reputation], {
          participant: id,
        }),
      ),
    );
    this.el
      .querySelector('.my-trades tbody')!
      .replaceChildren(
        ...view.intervals.flatMap((i) =>
          i.orders
            .filter((o) => o.filled_wh > 0)
            .map((o) =>
              row(
                [
                  span(i.intervalStart_s, view.interval_s),
                  o.participant,
                  o.side,
                  o.limit,
                  kwh(o.filled_wh),
                  o.price,
                  money(o.amount),
                ],
                { order: o.id },
              ),
            ),
        ),
      );
    this.el
      .querySelector('.my-deliveries tbody')!
      .replaceChildren(
        ...view.intervals.flatMap((i) =>
          i.deliveries.map((d) =>
            row(
              [
                span(i.intervalStart_s, view.interval_s),
                d.participant,
                kwh(d.cleared_wh),
                kwh(d.metered_wh),
                kwh(d.metered_wh - d.cleared_wh),
                i.state,
              ],
              { participant: d.participant, interval: String(i.intervalStart_s) },
            ),
          ),
        ),
      );
  }
}
