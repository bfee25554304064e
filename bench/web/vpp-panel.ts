// The VPP as its operator sees it (the `vpp` event after each decision): target against delivered
// over time, the aggregate flexibility with both marked on it, and each member's contribution.
import type { VppLiveView } from '../server/api.ts';
import { StreamChart } from './charts.ts';

const mw = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);

function cell(row: HTMLTableRowElement, text: string, className?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

export class VppPanel {
  /** The last view shown (the browser tests read it). */
  last: VppLiveView | null = null;
  readonly chart: StreamChart;
  private readonly summary: HTMLElement;
  private readonly flex: HTMLElement;
  private readonly members: HTMLTableSectionElement;

  constructor(private readonly el: HTMLElement) {
    el.innerHTML = `
      <h2>Virtual power plant <span class="vpp-id"></span></h2>
      <p class="vpp-summary" aria-live="polite"></p>
      <div class="vpp-flex" role="img" aria-label="Aggregate flexibility with target and delivered">
        <div class="vpp-flex-range"></div>
        <div class="vpp-flex-mark target" title="target"></div>
        <div class="vpp-flex-mark delivered" title="delivered"></div>
        <span class="vpp-flex-label lo"></span><span class="vpp-flex-label hi"></span>
      </div>
      <figure><figcaption>Target and delivered (MW)</figcaption><div class="chart vpp-chart"></div></figure>
      <table class="vpp-members">
        <thead><tr><th>member</th><th>prosumer</th><th>set-point (MW)</th><th>measured (MW)</th>
        <th>tracking error (MW)</th><th>share of delivered</th></tr></thead>
        <tbody></tbody>
      </table>`;
    this.summary = el.querySelector('.vpp-summary')!;
    this.flex = el.querySelector('.vpp-flex')!;
    this.members = el.querySelector('.vpp-members tbody')!;
    this.chart = new StreamChart(el.querySelector('.vpp-chart') as HTMLElement, {
      unit: 'MW',
      decimals: 3,
      minSpan: 0.05,
      colours: (name) => (name === 'target' ? '#e8a33d' : '#4fa3e0'),
    });
  }

  update(view: VppLiveView): void {
    this.last = view;
    this.el.hidden = false;
    this.el.querySelector('.vpp-id')!.textContent = view.vpp;
    const price = view.price_per_mwh === null ? '' : ` · price ${view.price_per_mwh.toFixed(2)} /MWh`;
    const f = view.flexibility;
    this.summary.textContent =
      `target ${mw(view.target_mw)} MW · delivered ${mw(view.delivered_mw)} MW${price} · ` +
      `${f.members_online}/${f.members} members online · storage ${mw(f.stored_energy_mwh)} MWh stored, ` +
      `${mw(f.storage_room_mwh)} MWh room` +
      (view.ok ? '' : ` · ${view.reason ?? 'solve failed'}: last feasible dispatch kept`);
    this.summary.dataset.ok = String(view.ok);
    this.drawFlexibility(view);
    this.chart.push(view.t_s, { target: view.target_mw, delivered: view.delivered_mw });
    this.chart.render();
    this.drawMembers(view);
  }

  /** The bounds as a bar, target and delivered as marks on it (outside the bar: clamped at its ends). */
  private drawFlexibility(view: VppLiveView): void {
    const { pmin_mw, pmax_mw } = view.flexibility;
    const lo = Math.min(pmin_mw, view.target_mw, view.delivered_mw, 0);
    const hi = Math.max(pmax_mw, view.target_mw, view.delivered_mw);
    const at = (v: number) => `${(100 * (v - lo)) / Math.max(hi - lo, 1e-9)}%`;
    const range = this.flex.querySelector<HTMLElement>('.vpp-flex-range')!;
    range.style.left = at(pmin_mw);
    range.style.width = `calc(${at(pmax_mw)} - ${at(pmin_mw)})`;
    this.flex.querySelector<HTMLElement>('.target')!.style.left = at(view.target_mw);
    this.flex.querySelector<HTMLElement>('.delivered')!.style.left = at(view.delivered_mw);
    this.flex.querySelector('.lo')!.textContent = `${mw(pmin_mw, 2)} MW`;
    this.flex.querySelector('.hi')!.textContent = `${mw(pmax_mw, 2)} MW`;
  }

  private drawMembers(view: VppLiveView): void {
    const total = view.members.reduce((s, m) => s + Math.abs(m.measured_mw), 0);
    const rows = view.members.map((m) => {
      const row = document.createElement('tr');
      row.dataset.member = m.id;
      cell(row, `${m.id}${m.hardware ? ' (hardware)' : ''}`);
      cell(row, m.prosumer ?? '');
      cell(row, m.opted_out ? 'opted out' : mw(m.setpoint_mw), 'num');
      cell(row, mw(m.measured_mw), 'num');
      cell(row, mw(m.tracking_error_mw), 'num');
      const share = total > 0 ? m.measured_mw / total : 0;
      const bar = cell(row, `${(100 * share).toFixed(0)} %`, 'share');
      bar.style.setProperty('--share', `${Math.min(100, Math.abs(100 * share))}%`);
      return row;
    });
    this.members.replaceChildren(...rows);
  }
}
