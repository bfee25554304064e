/**
 * A live server for page tests that do not need the twin: the Baran & Wu 33-bus feeder (real
 * MATPOWER import, real topology derivation, real server) with three microgrids cut at its tie
 * points and a scripted state source. The source is not physics: it keeps grid-connected islands at
 * nominal frequency and lets islands cut off by an open breaker sag, so the page's island colouring
 * and charts can be checked without the real-time twin. The twin-backed suite is web-demo.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AttackEventData, AuditEntry, GridTopology, LiveState } from '../bench/server/api.ts';
import { type LiveServer, startLiveServer } from '../bench/server/live-server.ts';
import { type TopologyOptions, topologyFromGrid } from '../bench/server/topology.ts';
import { parseMatpower } from '../twin/grid/matpower.ts';
import type { Grid } from '../twin/grid/model.ts';
import { accessTokens } from './socket-api-helpers.ts';

const repoRoot = join(import.meta.dirname, '..');

/** case33bw with breakers at the microgrid boundaries, DERs and one FID. */
export function fixtureGrid(): Grid {
  const file = join(repoRoot, 'grids/matpower/case33bw.m');
  const { grid } = parseMatpower(readFileSync(file, 'utf8'), file);
  grid.frequency_hz = 50;
  const mg = (bus: number) =>
    bus >= 19 && bus <= 22
      ? 'mg1'
      : bus >= 26 && bus <= 33
        ? 'mg3'
        : bus >= 23 && bus <= 25
          ? 'mg2'
          : undefined;
  for (const bus of grid.buses) {
    const m = mg(Number(bus.id));
    if (m) bus.microgrid = m;
  }
  // Replace the branches into each microgrid with breakers (their points of common coupling).
  const pccs: [string, string, string][] = [
    ['pcc1', '2', '19'],
    ['pcc2', '3', '23'],
    ['pcc3', '6', '26'],
  ];
  grid.branches = grid.branches.filter((br) => !pccs.some(([, a, b]) => br.from === a && br.to === b));
  grid.switches = pccs.map(([id, from, to]) => ({ id, kind: 'breaker' as const, from, to, closed: true }));
  grid.microgrids = pccs.map(([id], i) => ({ id: `mg${i + 1}`, pccSwitch: id }));
  const der = (id: string, bus: string, technology: Grid['ders'][number]['technology'], rating: number) => ({
    id,
    bus,
    technology,
    control: 'pq' as const,
    rating_mva: rating,
    p_mw: rating / 2,
    q_mvar: 0,
    qmin_mvar: -rating,
    qmax_mvar: rating,
    vset_pu: 1,
    participation: 0,
    inService: true,
    params: {},
  });
  grid.ders = [
    der('pv21', '21', 'pv', 0.4),
    der('bess22', '22', 'battery', 0.3),
    der('wind24', '24', 'wind', 0.5),
    der('bess-hw', '25', 'battery', 0.25),
    der('gen30', '30', 'diesel-genset', 0.6),
    der('fc33', '33', 'fuel-cell', 0.2),
  ];
  grid.fids = [
    {
      id: 'fid1',
      busA: '22',
      busB: '25',
      rating_mva: 0.3,
      p_ab_mw: 0.1,
      qA_mvar: 0,
      qB_mvar: 0,
      lossFraction: 0.02,
      inService: true,
    },
  ];
  return grid;
}

export interface FixtureServer {
  server: LiveServer;
  topology: GridTopology;
  audit: AuditEntry[];
  close(): Promise<void>;
}

/**
 * The fixture's server, on case33bw with its three cut microgrids, or on `grid` (the demo grid, to
 * check the page's drawing of it: the state source is the same script).
 */
export async function startFixtureServer(
  grid: Grid = fixtureGrid(),
  options: TopologyOptions = { hardwareDevices: ['bess-hw'] },
): Promise<FixtureServer> {
  const topology = topologyFromGrid(grid, options);
  const switches: Record<string, boolean> = Object.fromEntries(
    topology.switches.map((s) => [s.id, s.closed]),
  );
  const openedAt = new Map<string, number>();
  const audit: AuditEntry[] = [];
  const attacks = new Map<string, AttackEventData>();
  let t = 0;
  const server = await startLiveServer({
    port: 0,
    tokens: accessTokens,
    topology,
    onAudit: (entry) => audit.push(entry),
    onCommand: async (command) => {
      if (command.type === 'breaker') {
        switches[command.id] = command.closed;
        if (command.closed) openedAt.delete(command.id);
        else openedAt.set(command.id, t);
        return {
          message: `breaker ${command.id} ${command.closed ? 'closed' : 'opened'}`,
          event: {
            t_s: t,
            kind: 'breaker',
            message: `${command.id} ${command.closed ? 'closed' : 'opened'}`,
            target: command.id,
          },
        };
      }
      if (command.type === 'island' && command.microgrid) {
        const pcc = grid.microgrids.find((m) => m.id === command.microgrid)?.pccSwitch;
        if (!pcc) throw new Error(`no microgrid ${command.microgrid}`);
        switches[pcc] = !command.islanded;
        if (command.islanded) openedAt.set(pcc, t);
        else openedAt.delete(pcc);
        return {
          message: `${command.microgrid} ${command.islanded ? 'islanded' : 'reconnected'}`,
          event: {
            t_s: t,
            kind: 'island',
            message: `${command.microgrid} islanded`,
            target: command.microgrid,
          },
        };
      }
      if (command.type === 'attack') {
        // The twin's attack-start/attack-stop events, worded and with data as twin/attacks/live.ts has them.
        const id = command.id ?? `${command.kind}@${command.target}#1`;
        if (command.action === 'start')
          attacks.set(id, { attack: id, kind: command.kind!, channel: command.target!, from_s: t });
        const data = attacks.get(id);
        if (!data) throw new Error(`no running attack '${id}'`);
        const event =
          command.action === 'start'
            ? {
                t_s: t,
                kind: 'attack-start',
                message: `attack ${id}: ${command.kind} on ${command.target}`,
                target: id,
                data: { ...data },
              }
            : {
                t_s: t,
                kind: 'attack-stop',
                message: `attack ${id} stopped`,
                target: id,
                data: { ...data, to_s: t },
              };
        if (command.action === 'stop') attacks.delete(id);
        return { message: event.message, event };
      }
      return { message: `${command.type} accepted` };
    },
  });
  server.publishStatus({ runId: 'fixture', state: 'running', t_s: 0, dt_s: 0.001, runDir: '(none)' });
  const timer = setInterval(() => {
    t += 0.02;
    const islands: LiveState['islands'] = [
      { id: '1', f_hz: 50 + 0.003 * Math.sin(t), rocof_hz_s: 0, energised: true, gridConnected: true },
    ];
    for (const mg of grid.microgrids) {
      const since = openedAt.get(mg.pccSwitch!);
      if (since === undefined) continue;
      // Scripted sag of an islanded microgrid (see the file comment).
      const df = -0.4 * (1 - Math.exp(-(t - since) / 1.5));
      islands.push({
        id: mg.id,
        f_hz: 50 + df,
        rocof_hz_s: (0.4 / 1.5) * Math.exp(-(t - since) / 1.5) * -1,
        energised: true,
        gridConnected: false,
      });
    }
    const vm_pu = topology.buses.map((_, i) => 1 - 0.0025 * (i % 18) - 0.0005 * Math.sin(t + i));
    const devices: LiveState['devices'] = {};
    for (const d of topology.ders) {
      devices[d.id] = {
        p_mw: d.rating_mva * (0.5 + 0.1 * Math.sin(t / 3)),
        q_mvar: 0,
        online: true,
        ...(d.technology === 'battery' ? { soc: 0.62 } : {}),
      };
    }
    server.publishState({
      t_s: t,
      step: Math.round(t * 1000),
      islands,
      vm_pu,
      devices,
      switches: { ...switches },
      fids: Object.fromEntries(topology.fids.map((f) => [f.id, { p_mw: 0.1 * Math.cos(t / 4) }])),
      // Islanded: a microgrid with no PCC (islanded by design) or with its PCC open.
      microgrids: Object.fromEntries(
        grid.microgrids.map((m) => [
          m.id,
          {
            pcc_p_mw: 0,
            pcc_q_mvar: 0,
            ems: 'standby' as const,
            islanded: !m.pccSwitch || switches[m.pccSwitch] === false,
          },
        ]),
      ),
      loop: { lateness_us: 4 + Math.random() * 3, work_us: 30 + Math.random() * 10, overruns: 0 },
      // A scripted χ² statistic: near its degrees of freedom, far above the threshold while attacked.
      detectors: {
        chi2: {
          t_s: t,
          statistic: attacks.size > 0 ? 412 : 12 + 2 * Math.sin(t),
          threshold: 21.7,
          alarm: attacks.size > 0,
        },
      },
    });
  }, 20);
  return {
    server,
    topology,
    audit,
    async close() {
      clearInterval(timer);
      await server.close();
    },
  };
}
