/**
 * Pieces of the twin built once from the grid file and the `twin:` settings (loads with their
 * shedding stages, FIDs, breakers, over-current relays).
 */
import { defaultLoadModel, LoadBank, type LoadModel } from '../der/load.ts';
import { defaultFidParams, FlexibleInterconnection } from '../fid/fid.ts';
import type { Grid } from '../grid/model.ts';
import type { CompiledNetwork as Network } from '../powerflow/network.ts';
import {
  assignSheddingStages,
  defaultUflsStages,
  OvercurrentRelays,
  type OvercurrentSetting,
} from '../protection/protection.ts';
import type { Breaker, TwinConfig } from './types.ts';

/** Loads with their models; UFLS stages are assigned within each microgrid so each can shed its share. */
export function buildLoadBank(grid: Grid, config: TwinConfig, net: Network): LoadBank {
  const loadCfg = config.loads ?? {};
  const models = grid.loads.map((l) => {
    const m: LoadModel = {
      ...defaultLoadModel(),
      ...(loadCfg.default ?? {}),
      ...(loadCfg.byId?.[l.id] ?? {}),
    };
    if (loadCfg.byId?.[l.id]?.critical) m.sheddingStage = -1;
    return m;
  });
  const uflsStages = config.ufls?.stages ?? defaultUflsStages(grid.frequency_hz);
  // Stages are assigned within each microgrid, so every islanded microgrid can shed its share.
  const groups = new Map<string, number[]>();
  grid.loads.forEach((l, i) => {
    const key = grid.buses[net.busIndexOf.get(l.bus)!].microgrid ?? '';
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(i);
  });
  for (const members of groups.values()) {
    const stages = assignSheddingStages(
      members.map((i) => grid.loads[i].p_mw),
      members.map((i) => models[i].sheddingStage),
      config.ufls?.enabled === false ? [] : uflsStages,
    );
    members.forEach((i, k) => {
      models[i].sheddingStage = stages[k];
    });
  }
  const loads = new LoadBank(
    grid.loads.map((l) => l.id),
    grid.loads.map((l) => net.busIndexOf.get(l.bus)!),
    grid.loads.map((l) => l.p_mw),
    grid.loads.map((l) => l.q_mvar),
    models,
  );
  for (let i = 0; i < grid.loads.length; i++) if (!grid.loads[i].inService) loads.connected[i] = 0;
  return loads;
}

/** FIDs: the twin injects their powers itself (sending side pays the losses), not the power flow. */
export function buildFids(grid: Grid, config: TwinConfig, net: Network): FlexibleInterconnection[] {
  const fids: FlexibleInterconnection[] = [];
  for (let k = 0; k < grid.fids.length; k++) {
    const f = grid.fids[k];
    const c = config.fids?.[f.id] ?? {};
    const fid = new FlexibleInterconnection(
      f.id,
      defaultFidParams({
        rating_mva: f.rating_mva,
        p_ab_mw: f.p_ab_mw,
        qA_mvar: f.qA_mvar,
        qB_mvar: f.qB_mvar,
        lossFraction: f.lossFraction,
        ...c,
      }),
    );
    fid.inService = f.inService;
    fid.params.emergencyBelow_hz = c.emergencyBelow_hz ?? grid.frequency_hz * 0.99;
    fid.params.donorFloor_hz = c.donorFloor_hz ?? grid.frequency_hz * 0.996;
    fids.push(fid);
    net.fidInService[k] = 0;
  }
  return fids;
}

/** Breakers: every switch and every branch, by id. */
export function buildBreakers(grid: Grid, net: Network): Map<string, Breaker> {
  const breakers = new Map<string, Breaker>();
  grid.switches.forEach((s, i) => {
    breakers.set(s.id, {
      id: s.id,
      kind: 'switch',
      index: i,
      from: net.switchFrom[i],
      to: net.switchTo[i],
    });
  });
  grid.branches.forEach((b, i) => {
    if (!breakers.has(b.id)) {
      breakers.set(b.id, {
        id: b.id,
        kind: 'branch',
        index: i,
        from: net.branchFrom[i],
        to: net.branchTo[i],
      });
    }
  });
  return breakers;
}

/** Definite-time over-current relays on branches, with each branch's base current, kA. */
export function buildOvercurrent(grid: Grid, oc: readonly OvercurrentSetting[], net: Network) {
  const branch = Int32Array.from(oc, (s) => {
    const i = net.branchIds.indexOf(s.branch);
    if (i < 0) throw new TypeError(`over-current relay: unknown branch '${s.branch}'`);
    return i;
  });
  const baseKa = Float64Array.from(branch, (k) => {
    const kv = grid.buses[net.branchFrom[k]].baseKV || 1;
    return grid.baseMVA / (Math.sqrt(3) * kv);
  });

  return { relays: new OvercurrentRelays(oc), branch, current_a: new Float64Array(oc.length), baseKa };
}
