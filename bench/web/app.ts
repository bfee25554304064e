// Live page: connects with the token from the link, draws the diagram, charts and timeline, and
// offers controls only to roles that may use them (the server checks again: the page is a courtesy).
import type { io as connectSocket, Socket } from 'socket.io-client';
import {
  type ApiCommand,
  type ClientToServerEvents,
  type CommandResult,
  type CommandType,
  type GridTopology,
  type LiveEvent,
  type LiveMicrogrid,
  type LiveState,
  type Role,
  type RunStatus,
  type ScenarioAction,
  type ServerToClientEvents,
  type Severity,
  STAFF_ROLES,
  type StaffRole,
  type Welcome,
} from '../server/api.ts';
import { AttackLog } from './attacks.ts';
import { watchCampaign } from './campaign-panel.ts';
import { StreamChart } from './charts.ts';
import { GRID_AREA } from './colours.ts';
import { Diagram, naturalCompare } from './diagram.ts';
import { MarketPanel } from './market-panel.ts';
import { ProsumerMarketPanel } from './prosumer-market.ts';
import { ProsumerPanel } from './prosumer-panel.ts';
import { VppPanel } from './vpp-panel.ts';

/** The socket.io client comes as a global from the server's own script (/socket.io/socket.io.min.js). */
declare const io: typeof connectSocket;

/** A command that got no answer: the page's own refusal, with no audit entry behind it. */
type PageResult = CommandResult | { ok: false; code: 'failed'; reason: string };

/** What the page knows, exposed as `window.__gridloop` for the browser tests. */
interface PageState {
  role: Role | null;
  commands: CommandType[];
  topology: GridTopology | null;
  states: number;
  lastState: LiveState | null;
  events: LiveEvent[];
  lastResult: PageResult | null;
  scenarios?: string[];
  status?: RunStatus;
  charts?: Record<'frequency' | 'voltage' | 'fid' | 'loop' | 'detector', StreamChart>;
  attacks: AttackLog;
  vpp?: VppPanel;
  prosumer?: ProsumerPanel;
  market?: MarketPanel;
  prosumerMarket?: ProsumerMarketPanel;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);

// The token comes in the link, in the fragment (`#token=`, never sent to the server, so never in
// its logs) or, from older links, the query; keep it for this tab only and take it out of the
// address bar, so it is not on the projector screen or in the browser history.
const fragment = new URLSearchParams(location.hash.slice(1));
const linkToken = fragment.get('token') ?? params.get('token');
if (linkToken !== null) {
  sessionStorage.setItem('gridloop-token', linkToken);
  params.delete('token');
  fragment.delete('token');
  const rest = params.toString();
  const hash = fragment.toString();
  history.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}${hash ? `#${hash}` : ''}`);
}
if (params.get('view') === 'projector' || localStorage.getItem('gridloop-view') === 'projector') {
  document.body.classList.add('projector');
}
$('display-mode').addEventListener('click', () => {
  const on = document.body.classList.toggle('projector');
  localStorage.setItem('gridloop-view', on ? 'projector' : 'laptop');
  for (const chart of charts) chart.rebuild();
  // Labels are placed for the text size they are drawn at.
  diagram.draw();
  diagram.setOperable(page.commands.includes('breaker'));
  if (page.lastState) diagram.update(page.lastState);
  showAttacks();
});

const page: PageState = {
  role: null,
  commands: [],
  topology: null,
  states: 0,
  lastState: null,
  events: [],
  lastResult: null,
  attacks: new AttackLog(),
};
(window as unknown as { __gridloop: PageState }).__gridloop = page;

const diagram = new Diagram($('diagram') as unknown as SVGSVGElement, {
  onSwitch: (sw) =>
    command({ type: 'breaker', id: sw.id, closed: sw.closed }, `${sw.closed ? 'close' : 'open'} ${sw.id}`),
});

/** Series are named by area (`grid`, a microgrid id), so each keeps its area's colour. */
const areaColour = (area: string) => diagram.colours.of(area);
const frequencyChart = new StreamChart($('frequency-chart'), {
  unit: 'Hz',
  colours: areaColour,
  decimals: 3,
  minSpan: 0.1,
});
const voltageChart = new StreamChart($('voltage-chart'), {
  unit: 'pu',
  colours: areaColour,
  decimals: 3,
  minSpan: 0.01,
});
const fidChart = new StreamChart($('fid-chart'), { unit: 'MW', decimals: 3, minSpan: 0.02 });
const loopChart = new StreamChart($('loop-chart'), { unit: 'µs', decimals: 1, minSpan: 20 });
/** Each live detector's statistic (`chi2`) and its threshold (`chi2 threshold`), dashed. */
const detectorChart = new StreamChart($('detector-chart'), {
  unit: 'χ²',
  decimals: 1,
  minSpan: 10,
  colours: (name) => (name.endsWith(' threshold') ? '#f5a524' : '#c084fc'),
  dashed: (name) => name.endsWith(' threshold'),
});
const charts = [frequencyChart, voltageChart, fidChart, loopChart, detectorChart];
page.charts = {
  frequency: frequencyChart,
  voltage: voltageChart,
  fid: fidChart,
  loop: loopChart,
  detector: detectorChart,
};

const vppPanel = new VppPanel($('vpp'));
const prosumerPanel = new ProsumerPanel($('prosumer'), (preferences, done) => {
  if (socket?.connected) socket.emit('preferences', preferences, done);
  else done({ ok: false, auditId: '', code: 'unavailable', reason: 'not connected' });
});
page.vpp = vppPanel;
page.prosumer = prosumerPanel;
const marketPanel = new MarketPanel($('market'));
const prosumerMarketPanel = new ProsumerMarketPanel($('prosumer-market'));
page.market = marketPanel;
page.prosumerMarket = prosumerMarketPanel;

let socket: Socket<ServerToClientEvents, ClientToServerEvents> | undefined;
function connect() {
  const token = sessionStorage.getItem('gridloop-token');
  if (!token) {
    showLogin('This page needs an access token: open the link gridloop printed, or paste a token.');
    return;
  }
  socket?.close();
  const current: Socket<ServerToClientEvents, ClientToServerEvents> = io({
    transports: ['websocket'],
    auth: { token },
  });
  socket = current;
  current.on('connect_error', (err) => {
    setStatus('disconnected', 'not connected');
    if (/unauthenticated/.test(err.message)) {
      socket?.close();
      showLogin(`Access refused (${err.message.replace(/^unauthenticated: /, '')}).`);
    }
  });
  current.on('disconnect', () => setStatus('disconnected', 'disconnected'));
  current.on('welcome', onWelcome);
  current.on('topology', (topology) => setTopology(topology));
  current.on('status', onStatus);
  current.on('events', (events) => addEvents(events));
  current.on('vpp', (view) => vppPanel.update(view));
  current.on('prosumer', (view) => {
    prosumerPanel.update(view);
    if (view.market) prosumerMarketPanel.update(view.market);
  });
  current.on('market', (view) => marketPanel.update(view));
  watchCampaign(current);
  current.on('state', (state) => {
    page.states++;
    page.lastState = state;
    pending = state;
    pushCharts(state);
  });
}

function showLogin(reason: string): void {
  $('login').hidden = false;
  $('login-reason').textContent = reason;
}
$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem('gridloop-token', $<HTMLInputElement>('login-token').value.trim());
  $('login').hidden = true;
  connect();
});

function setStatus(state: string, text: string): void {
  $('run-status').dataset.state = state;
  $('run-status').textContent = text;
}

function onWelcome(welcome: Welcome): void {
  page.role = welcome.role;
  page.commands = welcome.commands;
  page.scenarios = welcome.scenarios ?? [];
  $('login').hidden = true;
  $('role').dataset.role = welcome.role;
  // A prosumer sees its own panel only: the grid, charts and timeline are the whole bench's.
  document.body.dataset.role = welcome.role;
  if (welcome.prosumer) prosumerPanel.show(welcome.prosumer);
  $('role').textContent = `${welcome.role}${welcome.name ? ` · ${welcome.name}` : ''}`;
  if (welcome.topology) setTopology(welcome.topology);
  if (welcome.status) onStatus(welcome.status);
  else setStatus('connected', 'connected');
  $('timeline').replaceChildren();
  page.events = [];
  page.attacks.reset();
  addEvents(welcome.recentEvents);
  socket?.emit('subscribe', { rate_hz: Number(params.get('rate')) || 20 });
  buildControls();
}

function setTopology(topology: GridTopology): void {
  page.topology = topology;
  $('grid-name').textContent = topology.name;
  diagram.setTopology(topology);
  diagram.setOperable(page.commands.includes('breaker'));
  buildControls();
  showAttacks();
}

function onStatus(status: RunStatus): void {
  page.status = status;
  setStatus(
    status.state,
    `${status.state}${status.scenario ? ` · ${status.scenario}` : ''} · run ${status.runId}`,
  );
}

const SEVERITY_ICON: Record<Severity, string> = { info: '•', warning: '▲', alarm: '■' };
/** A message repeating within this many twin seconds updates its line instead of adding one. */
const REPEAT_WINDOW_S = 30;

function addEvents(events: LiveEvent[]): void {
  const list = $('timeline');
  for (const event of events) {
    page.events.push(event);
    page.attacks.add(event);
    const key = `${event.source}|${event.kind}|${event.message}`;
    // A flapping link or a repeated alarm shows once, with a count, at its latest time.
    const recent = ([...list.children] as HTMLElement[]).slice(0, 12).find((li) => li.dataset.key === key);
    if (recent && event.t_s - Number(recent.dataset.t) <= REPEAT_WINDOW_S) {
      const count = Number(recent.dataset.count) + 1;
      recent.dataset.count = String(count);
      recent.dataset.t = String(event.t_s);
      recent.querySelector('.event-time')!.textContent = `${event.t_s.toFixed(3)} s`;
      recent.querySelector('.event-count')!.textContent = `×${count}`;
      list.prepend(recent);
      continue;
    }
    const li = document.createElement('li');
    li.className = `event ${event.severity} from-${event.source}`;
    li.dataset.key = key;
    li.dataset.t = String(event.t_s);
    li.dataset.count = '1';
    const time = document.createElement('span');
    time.className = 'event-time';
    time.textContent = `${event.t_s.toFixed(3)} s`;
    const icon = document.createElement('span');
    icon.className = 'event-icon';
    icon.textContent = SEVERITY_ICON[event.severity] ?? '•';
    const text = document.createElement('span');
    text.className = 'event-text';
    text.textContent = event.message;
    const count = document.createElement('span');
    count.className = 'event-count';
    text.append(' ', count);
    li.append(time, icon, text);
    list.prepend(li);
  }
  showAttacks();
  while (list.children.length > 300) list.lastChild!.remove();
  if (page.events.length > 1000) page.events.splice(0, page.events.length - 1000);
}

function pushCharts(state: LiveState): void {
  frequencyChart.push(state.t_s, frequencyByArea(state));

  const t = page.topology;
  const vm_pu = state.vm_pu;
  if (t && vm_pu && vm_pu.length === t.buses.length) {
    const lowest: Record<string, number> = {};
    t.buses.forEach((bus, i) => {
      const area = bus.microgrid ?? GRID_AREA;
      const v = vm_pu[i];
      if (v > 0.05 && (lowest[area] === undefined || v < lowest[area])) lowest[area] = v;
    });
    voltageChart.push(state.t_s, lowest);
  }
  const flows: Record<string, number> = {};
  for (const fid of t?.fids ?? []) {
    const p = state.fids?.[fid.id]?.p_mw ?? state.devices[fid.id]?.p_mw;
    if (typeof p === 'number') flows[fid.id] = p;
  }
  if (Object.keys(flows).length > 0) fidChart.push(state.t_s, flows);
  loopChart.push(state.t_s, { lateness: state.loop.lateness_us, work: state.loop.work_us });
  if (state.detectors) {
    const shown: Record<string, number> = {};
    for (const [name, d] of Object.entries(state.detectors)) {
      shown[name] = d.statistic;
      shown[`${name} threshold`] = d.threshold;
    }
    $('detector-figure').hidden = false;
    detectorChart.push(state.t_s, shown);
  }
}

/**
 * Frequency of the main grid and of every microgrid: a microgrid in the grid's island shows the
 * grid's frequency, an islanded one its own, under the same series name (and colour) throughout.
 */
function frequencyByArea(state: LiveState): Record<string, number | null> {
  const colours = diagram.colours;
  const f = (island: LiveState['islands'][number]) => (island.energised ? island.f_hz : null);
  const out: Record<string, number | null> = {};
  const main = state.islands.find((i) => i.gridConnected);
  if (main) out[GRID_AREA] = f(main);
  for (const island of state.islands) {
    const area = colours.areaOfIsland(island);
    if (area !== GRID_AREA) out[area] = f(island);
  }
  for (const m of page.topology?.microgrids ?? []) {
    const island = state.islands.find((i) => i.id.split('+').includes(m.id)) ?? main;
    if (island) out[m.id] = f(island);
  }
  return out;
}

let pending: LiveState | null = null;
function frame(): void {
  if (pending) {
    render(pending);
    pending = null;
  }
  for (const chart of charts) chart.render();
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);

/** One line per microgrid of the island that has a PCC: power through it (import positive), EMS mode. */
function pccLines(state: LiveState, island: LiveState['islands'][number]): HTMLDivElement[] {
  const withPcc = new Set((page.topology?.microgrids ?? []).filter((m) => m.pccSwitch).map((m) => m.id));
  return island.id
    .split('+')
    .filter((id) => withPcc.has(id) && state.microgrids?.[id])
    .map((id) => {
      const m = state.microgrids![id] as LiveMicrogrid;
      const line = document.createElement('div');
      line.className = 'label';
      line.dataset.pcc = id;
      line.textContent = m.islanded
        ? `${id} PCC open · EMS ${m.ems}`
        : `${id} PCC import ${m.pcc_p_mw.toFixed(3)} MW, ${m.pcc_q_mvar.toFixed(3)} Mvar · EMS ${m.ems}`;
      return line;
    });
}

/**
 * A microgrid as the select offers it: its id (as on the diagram), its name, and whether it is
 * islanded now (the twin's own flag, else its island's grid connection).
 */
function microgridLabel(m: GridTopology['microgrids'][number], state: LiveState | null): string {
  const islanded =
    state?.microgrids?.[m.id]?.islanded ??
    (state ? state.islands.find((i) => i.id.split('+').includes(m.id))?.gridConnected === false : undefined);
  const now = islanded === undefined ? '' : islanded ? ' · islanded' : ' · grid-connected';
  return `${m.id}${m.name && m.name !== m.id ? ` – ${m.name}` : ''}${now}`;
}

let bannerAt = Number.NEGATIVE_INFINITY;
function render(state: LiveState): void {
  $('twin-time').textContent = `t = ${state.t_s.toFixed(2)} s`;
  const select = document.getElementById('microgrid-select') as HTMLSelectElement | null;
  for (const option of select?.options ?? []) {
    const m = page.topology?.microgrids.find((x) => x.id === option.value);
    const label = m ? microgridLabel(m, state) : option.textContent;
    if (option.textContent !== label) option.textContent = label;
  }
  diagram.update(state);
  if (Math.abs(state.t_s - bannerAt) >= 1 && page.attacks.active().length > 0) {
    bannerAt = state.t_s;
    showAttacks();
  }
  const readouts = $('frequency-readouts');
  const islands = [...state.islands].sort((a, b) => naturalCompare(a.id, b.id));
  readouts.replaceChildren(
    ...islands.map((island) => {
      const card = document.createElement('div');
      card.className = 'readout';
      card.dataset.island = island.id;
      card.style.setProperty('--c', diagram.colours.island(island));
      const nominal = page.topology?.frequency_hz ?? 50;
      card.classList.toggle('off-nominal', island.energised && Math.abs(island.f_hz - nominal) > 0.1);
      const label = document.createElement('div');
      label.className = 'label';
      label.textContent = `island ${island.id}${island.gridConnected ? ' · grid' : ' · islanded'}`;
      const value = document.createElement('div');
      value.className = 'value';
      value.textContent = island.energised ? `${island.f_hz.toFixed(3)} Hz` : 'de-energised';
      const rocof = document.createElement('div');
      rocof.className = 'label';
      rocof.textContent = `ROCOF ${island.rocof_hz_s.toFixed(3)} Hz/s`;
      card.append(label, value, rocof, ...pccLines(state, island));
      return card;
    }),
  );
  $<HTMLTableElement>('devices').tBodies[0].replaceChildren(
    ...Object.entries(state.devices)
      .sort(([a], [b]) => naturalCompare(a, b))
      .map(([id, d]) => {
        const tr = document.createElement('tr');
        const cells = [
          id,
          d.p_mw.toFixed(3),
          d.q_mvar.toFixed(3),
          d.soc === undefined ? '' : `${(d.soc * 100).toFixed(1)} %`,
          d.tripped ? 'tripped' : d.online ? 'online' : 'offline',
        ];
        for (const text of cells) {
          const td = document.createElement('td');
          td.textContent = text;
          tr.append(td);
        }
        if (d.tripped || !d.online) tr.className = 'offline';
        return tr;
      }),
  );
  $('loop-timing').textContent =
    `lateness ${state.loop.lateness_us.toFixed(1)} µs · work ${state.loop.work_us.toFixed(1)} µs · overruns ${state.loop.overruns}`;
}

/** Banner, diagram marks and chart spans from the attack log (also on replayed runs' events). */
function showAttacks(): void {
  const log = page.attacks;
  const active = log.active();
  const banner = $('attack-banner');
  banner.hidden = active.length === 0;
  const now = page.lastState?.t_s;
  banner.replaceChildren(
    ...active.map((attack) => {
      const line = document.createElement('div');
      line.className = 'attack';
      line.dataset.attack = attack.id;
      const what = document.createElement('span');
      what.className = 'attack-what';
      what.textContent = `⚠ ATTACK: ${attack.kind} on ${attack.channel}`;
      const since = document.createElement('span');
      since.className = 'attack-since';
      since.textContent = `since t = ${attack.from_s.toFixed(1)} s${
        now !== undefined && now >= attack.from_s ? ` (${(now - attack.from_s).toFixed(0)} s ago)` : ''
      }`;
      const alarms = log.alarmsDuring(attack);
      const detector = document.createElement('span');
      detector.className = `attack-detector${alarms.length ? ' alarmed' : ''}`;
      const cleared = alarms.at(-1)?.cleared_s;
      detector.textContent = alarms.length
        ? `detector alarm at t = ${alarms[0].t_s.toFixed(1)} s (${alarms[0].detector})${
            cleared === undefined ? '' : `, cleared at t = ${cleared.toFixed(1)} s`
          }`
        : 'no detector alarm yet';
      line.append(what, since, detector);
      return line;
    }),
  );
  diagram.setAttacked(active.map((a) => a.channel));
  const spans = log.spans();
  for (const chart of charts) chart.setSpans(spans);
}

// ---- operator controls: built only for roles that may send commands ----

/** The scenario buttons, in the order an operator uses them. */
const SCENARIO_BUTTONS: readonly ScenarioAction[] = ['start', 'pause', 'resume', 'stop'];

function feedback(text: string, ok: boolean): void {
  const el = $('command-feedback');
  if (!el) return;
  el.textContent = text;
  el.className = ok ? 'ok' : 'bad';
}

async function command(cmd: ApiCommand, label: string): Promise<PageResult | undefined> {
  if (!socket?.connected) {
    feedback('not connected', false);
    return undefined;
  }
  feedback(`${label}…`, true);
  let result: PageResult;
  try {
    result = await socket.timeout(10_000).emitWithAck('command', cmd);
  } catch {
    result = { ok: false, code: 'failed', reason: 'no answer from the bench' };
  }
  page.lastResult = result;
  if (result.ok) {
    if (cmd.type === 'breaker') diagram.setSwitch(cmd.id, cmd.closed);
    feedback(`${label}: ${result.message}`, true);
  } else {
    feedback(`${label} refused (${result.code}): ${result.reason}`, false);
  }
  return result;
}

function button(text: string, onClick: () => void, className = ''): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.className = className;
  b.addEventListener('click', onClick);
  return b;
}

function group(title: string, ...children: HTMLElement[]): HTMLFieldSetElement {
  const fieldset = document.createElement('fieldset');
  const legend = document.createElement('legend');
  legend.textContent = title;
  fieldset.append(legend, ...children);
  return fieldset;
}

function select(
  name: string,
  options: { value: string; label: string; disabled?: boolean }[],
): HTMLSelectElement {
  const s = document.createElement('select');
  s.name = name;
  for (const { value, label, disabled } of options) {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = label;
    o.disabled = Boolean(disabled);
    s.append(o);
  }
  return s;
}

function numberInput(name: string, placeholder: string): HTMLInputElement {
  const i = document.createElement('input');
  i.type = 'number';
  i.step = 'any';
  i.name = name;
  i.placeholder = placeholder;
  i.size = 7;
  return i;
}

function buildControls(): void {
  const box = $('controls');
  const can = (type: CommandType) => page.commands.includes(type);
  if (page.commands.length === 0) {
    // Viewers get no controls at all, not disabled ones.
    box.replaceChildren();
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const t = page.topology;
  const parts: HTMLFieldSetElement[] = [];
  if (can('emergency-stop')) {
    let armed = 0;
    const stop = button(
      'EMERGENCY STOP',
      () => {
        if (Date.now() - armed > 3000) {
          armed = Date.now();
          stop.textContent = 'press again to stop';
          setTimeout(() => {
            stop.textContent = 'EMERGENCY STOP';
          }, 3000);
          return;
        }
        armed = 0;
        stop.textContent = 'EMERGENCY STOP';
        command({ type: 'emergency-stop' }, 'emergency stop');
      },
      'danger',
    );
    stop.id = 'emergency-stop';
    parts.push(group('Safety', stop));
  }
  if (can('breaker') && t && diagram.breakers.length > 0) {
    const buttons = diagram.breakers.map((sw) => {
      const b = button(
        sw.id,
        () => {
          const closed = diagram.switchState.get(sw.id) ?? sw.closed;
          command({ type: 'breaker', id: sw.id, closed: !closed }, `${closed ? 'open' : 'close'} ${sw.id}`);
        },
        'breaker',
      );
      b.dataset.breaker = sw.id;
      b.title = `toggle ${sw.kind} ${sw.id} (or click it on the diagram)`;
      return b;
    });
    parts.push(group('Breakers (toggle)', ...buttons));
  }
  if (can('island') && t && t.microgrids.length > 0) {
    // Named as the diagram and readouts name them, with their state now (updated by each state).
    const mg = select(
      'microgrid',
      t.microgrids.map((m) => ({ value: m.id, label: microgridLabel(m, page.lastState) })),
    );
    mg.id = 'microgrid-select';
    parts.push(
      group(
        'Microgrid',
        mg,
        button('island', () =>
          command({ type: 'island', microgrid: mg.value, islanded: true }, `island ${mg.value}`),
        ),
        button('reconnect', () =>
          command({ type: 'island', microgrid: mg.value, islanded: false }, `reconnect ${mg.value}`),
        ),
      ),
    );
  }
  if (can('scenario')) {
    // The bench lists its scenario folder; a free name is still possible when it lists nothing.
    let name: HTMLSelectElement | HTMLInputElement;
    if ((page.scenarios?.length ?? 0) > 0) {
      name = select(
        'scenario',
        page.scenarios!.map((s) => ({ value: s, label: s })),
      );
    } else {
      name = document.createElement('input');
      name.name = 'scenario';
      name.placeholder = 'scenario name';
      name.size = 14;
    }
    const act = (action: ScenarioAction) => () =>
      command(
        {
          type: 'scenario',
          action,
          ...(action === 'start' && name.value.trim() ? { name: name.value.trim() } : {}),
        },
        `scenario ${action}${action === 'start' ? ` ${name.value.trim()}` : ''}`,
      );
    parts.push(group('Scenario', name, ...SCENARIO_BUTTONS.map((a) => button(a, act(a)))));
  }
  if (can('setpoint') && t && t.ders.length > 0) {
    const admin = page.role === 'admin';
    const device = select(
      'device',
      t.ders.map((d) => ({
        value: d.id,
        label: d.hardware ? `${d.id} (hardware${admin ? '' : ', admin only'})` : d.id,
        disabled: d.hardware && !admin,
      })),
    );
    const p = numberInput('p_mw', 'P MW');
    const q = numberInput('q_mvar', 'Q Mvar');
    const send = button('set', () => {
      const cmd: Extract<ApiCommand, { type: 'setpoint' }> = { type: 'setpoint', deviceId: device.value };
      if (p.value !== '') cmd.p_mw = Number(p.value);
      if (q.value !== '') cmd.q_mvar = Number(q.value);
      command(cmd, `set-point ${device.value}`);
    });
    parts.push(group('Device set-point', device, p, q, send));
  }
  if (can('fid-setpoint') && t && t.fids.length > 0) {
    const fid = select(
      'fid',
      t.fids.map((f) => ({ value: f.id, label: `${f.id} (${f.busA}→${f.busB})` })),
    );
    const p = numberInput('fid_p_mw', 'P MW');
    parts.push(
      group(
        'FID transfer',
        fid,
        p,
        button('set', () =>
          command({ type: 'fid-setpoint', fidId: fid.value, p_mw: Number(p.value) }, `FID ${fid.value}`),
        ),
      ),
    );
  }
  if (can('rotate-token')) {
    const role = select(
      'rotate-role',
      STAFF_ROLES.map((r) => ({ value: r, label: r })),
    );
    const rotated = document.createElement('output');
    rotated.id = 'rotated-token';
    const rotate = button('rotate token', async () => {
      const result = await command(
        { type: 'rotate-token', role: role.value as StaffRole },
        `rotate ${role.value} token`,
      );
      if (result?.ok && result.token) {
        // Shown once, here only: the audit log never holds tokens.
        rotated.textContent =
          role.value === 'viewer'
            ? `${location.origin}/#token=${result.token}`
            : `new ${role.value} token: ${result.token}`;
      }
    });
    parts.push(group('Access (admin)', role, rotate, rotated));
  }
  const out = document.createElement('p');
  out.id = 'command-feedback';
  out.setAttribute('role', 'status');
  box.replaceChildren(...parts, out);
}

connect();
