// Live page: subscribes to the bench's state stream and draws frequency per island.
/* global io, uPlot */
const WINDOW_S = 30;
const socket = io({ transports: ['websocket'] });
const statusEl = document.getElementById('run-status');
const timeEl = document.getElementById('twin-time');
const readoutsEl = document.getElementById('frequency-readouts');
const devicesBody = document.querySelector('#devices tbody');
const loopEl = document.getElementById('loop-timing');

/** Chart columns: time, then one series per island, created when an island first appears. */
const islandIds = [];
const columns = [[]];
let chart;

function makeChart() {
  chart?.destroy();
  const el = document.getElementById('frequency-chart');
  const palette = ['#4ea1ff', '#3ecf8e', '#f5a524', '#f25f5c', '#b38cff', '#2dd4bf'];
  chart = new uPlot(
    {
      width: Math.max(320, el.clientWidth || 900),
      height: 320,
      scales: { x: { time: false } },
      axes: [
        { label: 'twin time (s)', stroke: '#8a97a6', grid: { stroke: '#263040' } },
        { label: 'Hz', stroke: '#8a97a6', grid: { stroke: '#263040' }, size: 70 },
      ],
      series: [
        {},
        ...islandIds.map((id, i) => ({ label: id, stroke: palette[i % palette.length], width: 2 })),
      ],
    },
    columns,
    el,
  );
}

function readout(id) {
  let el = document.getElementById(`readout-${id}`);
  if (!el) {
    el = document.createElement('div');
    el.className = 'readout';
    el.id = `readout-${id}`;
    el.innerHTML = '<div class="label"></div><div class="value"></div><div class="label rocof"></div>';
    el.querySelector('.label').textContent = `island ${id}`;
    readoutsEl.append(el);
  }
  return el;
}

socket.on('connect', () => {
  socket.emit('subscribe', { rate_hz: 20 });
});
socket.on('disconnect', () => {
  statusEl.dataset.state = 'disconnected';
  statusEl.textContent = 'disconnected';
});
socket.on('status', (status) => {
  statusEl.dataset.state = status.state;
  statusEl.textContent = `${status.state} · run ${status.runId}`;
});
socket.on('state', (state) => {
  let rebuild = false;
  for (const island of state.islands) {
    if (!islandIds.includes(island.id)) {
      islandIds.push(island.id);
      columns.push(columns[0].map(() => null));
      rebuild = true;
    }
  }
  columns[0].push(state.t_s);
  islandIds.forEach((id, i) => {
    const island = state.islands.find((x) => x.id === id);
    columns[i + 1].push(island?.energised ? island.f_hz : null);
  });
  while (columns[0].length > 2 && columns[0][0] < state.t_s - WINDOW_S) {
    for (const col of columns) col.shift();
  }
  if (rebuild || !chart) makeChart();
  else chart.setData(columns);

  timeEl.textContent = `t = ${state.t_s.toFixed(2)} s`;
  for (const island of state.islands) {
    const el = readout(island.id);
    el.querySelector('.value').textContent = island.energised
      ? `${island.f_hz.toFixed(3)} Hz`
      : 'de-energised';
    el.querySelector('.rocof').textContent = `ROCOF ${island.rocof_hz_s.toFixed(3)} Hz/s`;
    el.classList.toggle('off-nominal', Math.abs(island.f_hz - 50) > 0.1 && Math.abs(island.f_hz - 60) > 0.1);
  }
  devicesBody.replaceChildren(
    ...Object.entries(state.devices).map(([id, d]) => {
      const tr = document.createElement('tr');
      const cells = [
        id,
        d.p_mw.toFixed(4),
        d.q_mvar.toFixed(4),
        d.soc === undefined ? '' : `${(d.soc * 100).toFixed(1)} %`,
        d.online ? 'online' : 'offline',
      ];
      for (const text of cells) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      if (!d.online) tr.className = 'offline';
      return tr;
    }),
  );
  loopEl.textContent = `lateness ${state.loop.lateness_us.toFixed(1)} µs · work ${state.loop.work_us.toFixed(1)} µs · overruns ${state.loop.overruns}`;
  window.__gridloopLastState = state;
});
