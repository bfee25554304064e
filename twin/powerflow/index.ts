/**
 * AC power flow for the twin.
 *
 * USAGE (per step; after construction a solve allocates no arrays, only a few short-lived boxed
 * numbers, about 40 B per NR solve and 150 B per sweep):
 *
 *   const pf = new PowerFlowSolver(grid, { enforceQLimits: true });   // once per grid
 *   // each step: edit inputs in place (MW / Mvar / pu, generator convention for units)
 *   pf.net.loadP_mw[i] = ...;  pf.net.loadQ_mvar[i] = ...;            // loads (consumption)
 *   pf.net.unitP_mw[u] = ...;  pf.net.unitQ_mvar[u] = ...;            // units = generators, then DERs
 *   pf.net.unitVset_pu[u], pf.net.unitParticipation[u]                 // set-point, slack share
 *   pf.net.busExtraP_mw[b], pf.net.busExtraQ_mvar[b]                   // any other injection
 *   pf.net.fidP_mw[k], fidQA_mvar[k], fidQB_mvar[k]                    // FID transfer A→B
 *   const r = pf.solve();            // or pf.solveIsland(k) for one island
 *   pf.vm_pu[b], pf.va_deg[b]        // Float64Arrays in grid bus order, reused between solves
 *   pf.unitPOut_mw[u], pf.unitQOut_mvar[u]   // unit outputs incl. slack share and PV reactive power
 *   r.islands[k].status / iterations / maxMismatch_pu / slackP_mw
 *
 * Index lookups: pf.busIndex(id), unitIndex(id), loadIndex(id), switchIndex(id), branchIndex(id).
 * Also: pf.branchFlows(out) (MW/Mvar at both ends, series losses), pf.branchFlow(k, out) (one
 * branch, allocation-free), pf.resetVoltages() (drop the warm start), pf.resetQLimits();
 * checkIslandReferences(grid, file, locate) for grid files.
 * Edits of branch data or pf.net.busShuntG/B need pf.invalidateTopology() (Ybus is rebuilt).
 *
 * Topology: pf.setSwitch(i, closed), setBranchInService(i, on), setUnitInService(u, on) mark the
 * topology dirty; the next solve finds islands again (buses joined by closed switches become one
 * electrical node) and rebuilds Ybus, the Jacobian pattern and its ordering. Between topology
 * changes the symbolic LU (ordering, pivots, fill pattern) is reused and every solve warm-starts
 * from the previous voltages. `pf.islands` lists islands with their buses and reference bus;
 * `pf.busIsland[b]` gives a bus's island.
 *
 * Slack: an island's reference is its slack bus, else its grid-forming unit with the largest
 * participation. If any unit in the island has participation > 0, the island imbalance ΔP is shared
 * by participation (distributed slack: Pᵢ = Pᵢ,sched + αᵢ ΔP); otherwise the reference takes it all.
 * Frequency is not modelled here: the caller turns ΔP into frequency dynamics.
 *
 * Q limits (enforceQLimits): MATPOWER's runpf rules — every violating voltage-regulating node
 * becomes PQ at its limit, the reference included (limitReferenceQ: false exempts it); a switched
 * slack keeps its P and the first remaining PV node takes the imbalance (IslandResult.slackBus),
 * angles stay referred to the original reference; pf.busQLimit[b] tells which buses switched.
 * Infinite unit limits (MATPOWER's Inf) mean "no limit". Each solve starts again from the
 * reference as slack.
 *
 * Flat start (flatStart, resetVoltages(true)): plain Newton, then DC power-flow angles, then step-
 * size control; IslandResult.start names the start used.
 *
 * Results never hold NaN: a failed island (max-iterations, diverged, singular) keeps the voltages it
 * started from and reports its final finite mismatch; invalid-input (NaN/Inf injections) computes
 * nothing; de-energised and no-reference islands get 0 pu.
 *
 * Methods: 'nr' (Newton–Raphson, polar, sparse LU), 'sweep' (backward/forward, radial islands with
 * one source), 'auto' (sweep where it applies, else NR).
 *
 * Linear algebra (twin/sparse): the Jacobian keeps one fixed pattern per topology (PV/PQ switching
 * and participation changes alter values only). It is factorised as 2×2 blocks per bus on a
 * minimum-degree node order (BlockLU2); if a diagonal block is unfit for that static pivoting the
 * island falls back to the scalar Gilbert–Peierls LU with threshold pivoting and KLU-style
 * refactorisation (SparseLU). A warm solve first tries chord steps with the previous factors and
 * refactorises only when they stop halving the mismatch; IslandResult.factorizations counts real
 * factorisations, iterations counts all steps.
 */
export { checkIslandReferences } from './check.ts';
export type { CompiledNetwork, Island, IslandKind } from './network.ts';
export { compileNetwork, findIslands, UnitControl } from './network.ts';
export type {
  BranchFlow,
  IslandResult,
  IslandStart,
  IslandStatus,
  PowerFlowMethod,
  PowerFlowOptions,
  PowerFlowResult,
} from './solver.ts';
export { PowerFlowOptionError, PowerFlowSolver } from './solver.ts';
