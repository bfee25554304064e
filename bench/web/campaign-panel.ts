// Campaign progress on the live page (`gridloop campaign --serve`, docs/campaigns.md § Progress):
// done/failed/running, rate and time left, the line the terminal shows. Hidden until a campaign's
// progress arrives; a bench without a campaign never shows it.
import type { Socket } from 'socket.io-client';
import type { CampaignProgress, ClientToServerEvents, ServerToClientEvents } from '../server/api.ts';

/** "12/200 done (1 failed), 2 running · 3.40 runs/s · about 55 s left". */
export function campaignLine(p: CampaignProgress): string {
  const left =
    p.done === p.total && p.running === 0
      ? 'finished'
      : p.eta_s === null
        ? 'time left not known yet'
        : `about ${p.eta_s >= 120 ? `${Math.round(p.eta_s / 60)} min` : `${Math.round(p.eta_s)} s`} left`;
  return `${p.done}/${p.total} done${p.failed ? ` (${p.failed} failed)` : ''}${p.skipped ? ` [${p.skipped} already done]` : ''}, ${p.running} running · ${p.rate.toFixed(2)} runs/s · ${left}`;
}

/** The panel: a section before the grid overview, created on the first progress. */
function panel(): { section: HTMLElement; bar: HTMLProgressElement; line: HTMLElement } {
  let section = document.getElementById('campaign');
  if (!section) {
    section = document.createElement('section');
    section.id = 'campaign';
    section.setAttribute('aria-label', 'Campaign progress');
    section.innerHTML =
      '<h2>Campaign <span id="campaign-name"></span></h2><progress id="campaign-bar" max="1" value="0"></progress> <span id="campaign-line" role="status"></span>';
    const main = document.querySelector('main') ?? document.body;
    main.insertBefore(section, document.getElementById('overview') ?? main.firstChild);
  }
  return {
    section,
    bar: document.getElementById('campaign-bar') as HTMLProgressElement,
    line: document.getElementById('campaign-line')!,
  };
}

export function showCampaign(p: CampaignProgress): void {
  const { section, bar, line } = panel();
  section.hidden = false;
  document.getElementById('campaign-name')!.textContent = p.campaign;
  bar.max = Math.max(1, p.total);
  bar.value = p.done;
  line.textContent = campaignLine(p);
}

/** Shows the campaign progress the socket sends (and the welcome's, for a late joiner). */
export function watchCampaign(socket: Socket<ServerToClientEvents, ClientToServerEvents>): void {
  socket.on('campaign', showCampaign);
  socket.on('welcome', (welcome) => {
    if (welcome.campaign) showCampaign(welcome.campaign);
  });
}
