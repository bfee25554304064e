// A prosumer's own page (the `prosumer` event): its meter, its price, the VPP's schedule for its
// units, and its preferences (flexible-load window, battery reserve, opt-out), sent with `preferences`.
import type { PreferencesResult, ProsumerPreferences, ProsumerView } from '../server/api.ts';

const mw = (v: number | null) => (v === null ? '—' : `${v.toFixed(3)} MW`);

export class ProsumerPanel {
  /** The last view shown and the last answer to a preferences message (the browser tests read them). */
  last: ProsumerView | null = null;
  lastResult: PreferencesResult | null = null;
  private readonly form: HTMLFormElement;

  constructor(
    private readonly el: HTMLElement,
    send: (preferences: ProsumerPreferences, done: (result: PreferencesResult) => void) => void,
  ) {
    el.innerHTML = `
      <h2>My energy <span class="prosumer-id"></span></h2>
      <p class="prosumer-meter" aria-live="polite"></p>
      <table class="prosumer-units">
        <thead><tr><th>unit</th><th>now</th><th>VPP schedule</th><th>SoC</th></tr></thead><tbody></tbody>
      </table>
      <form class="prosumer-preferences" novalidate>
        <fieldset>
          <legend>My preferences</legend>
          <label>Flexible loads may move from <input name="start_h" type="number" min="0" max="24" step="0.5"> h
            to <input name="end_h" type="number" min="0" max="24" step="0.5"> h</label>
          <label>Keep my battery at least <input name="reserve" type="number" min="0" max="100" step="5"> % charged</label>
          <label><input name="opt_out" type="checkbox"> Opt out: the VPP leaves my units alone</label>
          <button type="submit">save</button>
          <output class="prosumer-result"></output>
        </fieldset>
      </form>`;
    this.form = el.querySelector('form')!;
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      const out = this.form.querySelector('output')!;
      out.textContent = 'sending…';
      send(this.preferences(), (result) => {
        this.lastResult = result;
        out.dataset.ok = String(result.ok);
        out.textContent = result.ok ? result.message : `refused: ${result.reason}`;
      });
    });
  }

  /** The form as preferences: empty fields are left out (back to their defaults). */
  preferences(): ProsumerPreferences {
    const value = (name: string) => (this.form.elements.namedItem(name) as HTMLInputElement).value;
    const prefs: ProsumerPreferences = {};
    if (value('start_h') !== '' && value('end_h') !== '')
      prefs.flexible_window = { start_h: Number(value('start_h')), end_h: Number(value('end_h')) };
    if (value('reserve') !== '') prefs.battery_reserve = Number(value('reserve')) / 100;
    if ((this.form.elements.namedItem('opt_out') as HTMLInputElement).checked) prefs.opt_out = true;
    return prefs;
  }

  show(prosumer: string): void {
    this.el.hidden = false;
    this.el.querySelector('.prosumer-id')!.textContent = prosumer;
  }

  update(view: ProsumerView): void {
    const first = this.last === null;
    this.last = view;
    this.show(view.prosumer);
    const price =
      view.price_per_mwh === null ? 'no price yet' : `price ${view.price_per_mwh.toFixed(2)} /MWh`;
    const state = view.meter.p_mw >= 0 ? 'exporting' : 'importing';
    this.el.querySelector('.prosumer-meter')!.textContent =
      `meter ${mw(view.meter.p_mw)} (${state}) · ${price}` +
      (view.preferences?.opt_out ? ' · opted out of the VPP' : '');
    const rows = Object.entries(view.meter.units).map(([id, unit]) => {
      const row = document.createElement('tr');
      row.dataset.unit = id;
      for (const text of [
        id,
        mw(unit.p_mw),
        mw(view.schedule[id] ?? null),
        unit.soc === undefined ? '' : `${(100 * unit.soc).toFixed(0)} %`,
      ])
        row.insertCell().textContent = text;
      return row;
    });
    this.el.querySelector('.prosumer-units tbody')!.replaceChildren(...rows);
    // The form starts from what the VPP has in force; later it is the prosumer's to edit.
    if (first && view.preferences) this.fill(view.preferences);
  }

  private fill(p: ProsumerPreferences): void {
    const set = (name: string, v: string) => {
      (this.form.elements.namedItem(name) as HTMLInputElement).value = v;
    };
    set('start_h', p.flexible_window ? String(p.flexible_window.start_h) : '');
    set('end_h', p.flexible_window ? String(p.flexible_window.end_h) : '');
    set('reserve', p.battery_reserve === undefined ? '' : String(Math.round(p.battery_reserve * 100)));
    (this.form.elements.namedItem('opt_out') as HTMLInputElement).checked = p.opt_out === true;
  }
}
