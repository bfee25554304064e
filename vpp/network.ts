/**
 * Linearised AC network model for the TVPP: power-flow sensitivities at the twin's published
 * operating point, recomputed at every dispatch.
 *
 * From the catalog's network data (impedances, shunts, switches: `TwinCatalog.network`) and the
 * published state (voltages, angles, breaker positions, each island's reference bus) it builds
 * each energised island's bus admittance matrix and the polar AC power-flow Jacobian at the present
 * voltages, with the island's reference bus as slack (it holds voltage and angle and takes any
 * imbalance) and every other bus PQ — the twin's own model of who holds an island's voltage. Then
 *
 *   [Δθ; ΔV] = J⁻¹ [ΔP; ΔQ]      (one column per injection bus: dV/dP and dV/dQ at every bus)
 *   Δ|S_branch end| = Re(conj(S)·dS)/|S|   with dS from the two-port equations (chain rule)
 *
 * so a change of injection predicts voltages and branch loadings to first order. Loads are taken as
 * constant power (their voltage dependence is left to the re-linearisation of the next dispatch).
 * The Jacobian is dense (LU with partial pivoting): fine for distribution feeders of tens to a few
 * hundred buses, not meant for transmission-size islands.
 */
import type { TwinState } from '../twin/api.ts';
import type { NetworkModel } from '../twin/control/contract.ts';

/** A monitored branch end: its loading now and its sensitivity to each injection. */
export interface BranchSensitivity {
  id: string;
  end: 'from' | 'to';
  rating_mva: number;
  /** Apparent power at this end now, MVA. */
  s_mva: number;
  /** d|S|/dP per injection bus (index as `injections`), MVA per MW. */
  dS_dP: Float64Array;
}

export interface LinearNetwork {
  /** Injection buses, in the order asked for. */
  injections: readonly string[];
  /** Monitored buses (every bus of an energised island). */
  buses: readonly {
    id: string;
    island: string;
    vm_pu: number;
    vmin_pu: number;
    vmax_pu: number;
    /** True for the island's reference (its voltage does not move with injections). */
    reference: boolean;
  }[];
  /** dV/dP[b·J + j]: pu of bus b's voltage per MW injected at injection j (taken by the reference). */
  dV_dP: Float64Array;
  /** dV/dQ[b·J + j]: pu per Mvar. */
  dV_dQ: Float64Array;
  /** Rated branches in service (both ends). */
  branches: BranchSensitivity[];
}

interface Complex {
  re: number;
  im: number;
}

/** Linearises the network at `state` for injections at the given buses (MW at each). */
export function linearise(
  network: NetworkModel,
  state: Readonly<TwinState>,
  injectionBuses: readonly string[],
): LinearNetwork {
  const J = injectionBuses.length;
  const busIndex = new Map(state.busIds.map((id, i) => [id, i]));
  const netBus = new Map(network.buses.map((b) => [b.id, b]));
  const closed = (id: string) => state.breakers?.[id] !== false;
  const buses: LinearNetwork['buses'][number][] = [];
  const dVdP: number[] = [];
  const dVdQ: number[] = [];
  const branches: BranchSensitivity[] = [];

  for (const island of state.islands) {
    if (!island.energised || island.referenceBus === undefined) continue;
    const inIsland = new Set(island.buses);
    // Nodes: buses joined by closed switches are one electrical node.
    const parent = new Map(island.buses.map((b) => [b, b]));
    const find = (b: string): string => {
      let r = b;
      while (parent.get(r) !== r) r = parent.get(r)!;
      return r;
    };
    for (const s of network.switches) {
      if (closed(s.id) && inIsland.has(s.from) && inIsland.has(s.to)) parent.set(find(s.from), find(s.to));
    }
    const ref = find(island.referenceBus);
    const nodes = [...new Set(island.buses.map(find))];
    // Reference last, so the unknowns are nodes 0..m−1.
    nodes.splice(nodes.indexOf(ref), 1);
    nodes.push(ref);
    const n = nodes.length;
    const m = n - 1;
    const nodeOf = new Map(island.buses.map((b) => [b, nodes.indexOf(find(b))]));
    const vm = new Float64Array(n);
    const va = new Float64Array(n);
    for (const [k, node] of nodes.entries()) {
      const i = busIndex.get(node)!;
      vm[k] = state.vm_pu[i]!;
      va[k] = (state.va_deg[i]! * Math.PI) / 180;
    }
    // Dense Ybus over the nodes.
    const G = new Float64Array(n * n);
    const B = new Float64Array(n * n);
    for (const b of island.buses) {
      const nb = netBus.get(b);
      if (!nb) continue;
      const k = nodeOf.get(b)!;
      G[k * n + k]! += nb.shuntG_pu;
      B[k * n + k]! += nb.shuntB_pu;
    }
    const inService = network.branches.filter(
      (br) => closed(br.id) && inIsland.has(br.from) && inIsland.has(br.to),
    );
    const twoPorts = inService.map((br) => {
      const y = twoPort(br);
      const f = nodeOf.get(br.from)!;
      const t = nodeOf.get(br.to)!;
      G[f * n + f]! += y.ff.re;
      B[f * n + f]! += y.ff.im;
      G[f * n + t]! += y.ft.re;
      B[f * n + t]! += y.ft.im;
      G[t * n + f]! += y.tf.re;
      B[t * n + f]! += y.tf.im;
      G[t * n + t]! += y.tt.re;
      B[t * n + t]! += y.tt.im;
      return { br, y, f, t };
    });
    // Injections at the present voltages.
    const P = new Float64Array(n);
    const Q = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < n; k++) {
        const g = G[i * n + k]!;
        const b = B[i * n + k]!;
        if (g === 0 && b === 0) continue;
        const d = va[i]! - va[k]!;
        const c = Math.cos(d);
        const s = Math.sin(d);
        P[i]! += vm[i]! * vm[k]! * (g * c + b * s);
        Q[i]! += vm[i]! * vm[k]! * (g * s - b * c);
      }
    }
    // Jacobian over the non-reference nodes: rows [P_0..P_m−1, Q_0..Q_m−1], columns [θ, V].
    const size = 2 * m;
    const jac = new Float64Array(size * size);
    for (let i = 0; i < m; i++) {
      for (let k = 0; k < m; k++) {
        const g = G[i * n + k]!;
        const b = B[i * n + k]!;
        if (i !== k && g === 0 && b === 0) continue;
        const d = va[i]! - va[k]!;
        const c = Math.cos(d);
        const s = Math.sin(d);
        let dPdT: number;
        let dPdV: number;
        let dQdT: number;
        let dQdV: number;
        if (i === k) {
          dPdT = -Q[i]! - b * vm[i]! * vm[i]!;
          dPdV = P[i]! / vm[i]! + g * vm[i]!;
          dQdT = P[i]! - g * vm[i]! * vm[i]!;
          dQdV = Q[i]! / vm[i]! - b * vm[i]!;
        } else {
          dPdT = vm[i]! * vm[k]! * (g * s - b * c);
          dPdV = vm[i]! * (g * c + b * s);
          dQdT = -vm[i]! * vm[k]! * (g * c + b * s);
          dQdV = vm[i]! * (g * s - b * c);
        }
        jac[i * size + k] = dPdT;
        jac[i * size + m + k] = dPdV;
        jac[(m + i) * size + k] = dQdT;
        jac[(m + i) * size + m + k] = dQdV;
      }
    }
    const lu = m > 0 ? factor(jac, size) : undefined;
    // One solve per injection bus in this island (P and Q), per unit on baseMVA.
    const perMw = 1 / network.baseMVA;
    const colsP: (Float64Array | undefined)[] = injectionBuses.map((bus) => {
      const k = nodeOf.get(bus);
      if (k === undefined || k === m || !lu) return undefined;
      const rhs = new Float64Array(size);
      rhs[k] = perMw;
      return lu.solve(rhs);
    });
    const colsQ: (Float64Array | undefined)[] = injectionBuses.map((bus) => {
      const k = nodeOf.get(bus);
      if (k === undefined || k === m || !lu) return undefined;
      const rhs = new Float64Array(size);
      rhs[m + k] = perMw;
      return lu.solve(rhs);
    });
    for (const b of island.buses) {
      const nb = netBus.get(b);
      const k = nodeOf.get(b)!;
      buses.push({
        id: b,
        island: island.id,
        vm_pu: vm[k]!,
        vmin_pu: nb?.vmin_pu ?? 0,
        vmax_pu: nb?.vmax_pu ?? Number.POSITIVE_INFINITY,
        reference: k === m,
      });
      for (let j = 0; j < J; j++) {
        dVdP.push(k < m && colsP[j] ? colsP[j]![m + k]! : 0);
        dVdQ.push(k < m && colsQ[j] ? colsQ[j]![m + k]! : 0);
      }
    }
    // Rated branches: apparent power at each end and its derivative along each dP column.
    const dV = (col: Float64Array | undefined, k: number): Complex => {
      // d(V e^{jθ}) = (dV + j V dθ) e^{jθ}
      if (!col || k === m) return { re: 0, im: 0 };
      const dv = col[m + k]!;
      const dth = col[k]!;
      const c = Math.cos(va[k]!);
      const s = Math.sin(va[k]!);
      return { re: dv * c - vm[k]! * dth * s, im: dv * s + vm[k]! * dth * c };
    };
    const phasor = (k: number): Complex => ({ re: vm[k]! * Math.cos(va[k]!), im: vm[k]! * Math.sin(va[k]!) });
    for (const { br, y, f, t } of twoPorts) {
      if (!(br.rating_mva > 0)) continue;
      for (const end of ['from', 'to'] as const) {
        const [a, o, yaa, yao] = end === 'from' ? [f, t, y.ff, y.ft] : [t, f, y.tt, y.tf];
        const va_ = phasor(a);
        const current = add(mul(yaa, va_), mul(yao, phasor(o)));
        const S = mul(va_, conj(current));
        const s = Math.hypot(S.re, S.im) * network.baseMVA;
        const dS_dP = new Float64Array(J);
        for (let j = 0; j < J; j++) {
          const col = colsP[j];
          if (!col) continue;
          const dVa = dV(col, a);
          const dI = add(mul(yaa, dVa), mul(yao, dV(col, o)));
          const dS = add(mul(dVa, conj(current)), mul(va_, conj(dI)));
          // MVA per MW: S and dS are pu, the column per MW.
          const magnitude = Math.hypot(S.re, S.im);
          dS_dP[j] =
            (magnitude > 1e-9 ? (S.re * dS.re + S.im * dS.im) / magnitude : Math.hypot(dS.re, dS.im)) *
            network.baseMVA;
        }
        branches.push({ id: br.id, end, rating_mva: br.rating_mva, s_mva: s, dS_dP });
      }
    }
  }
  return {
    injections: injectionBuses,
    buses,
    dV_dP: Float64Array.from(dVdP),
    dV_dQ: Float64Array.from(dVdQ),
    branches,
  };
}

/** The branch's two-port admittances (MATPOWER's Yff, Yft, Ytf, Ytt). */
function twoPort(br: NetworkModel['branches'][number]) {
  const den = br.r_pu * br.r_pu + br.x_pu * br.x_pu;
  const ys = { re: br.r_pu / den, im: -br.x_pu / den };
  const tap = br.tap > 0 ? br.tap : 1;
  const sh = (br.shift_deg * Math.PI) / 180;
  const ytt = { re: ys.re, im: ys.im + br.b_pu / 2 };
  const ff = { re: ytt.re / (tap * tap), im: ytt.im / (tap * tap) };
  // t = tap e^{j shift}: Yft = −ys / conj(t), Ytf = −ys / t
  const conjT = { re: tap * Math.cos(sh), im: -tap * Math.sin(sh) };
  const t = { re: tap * Math.cos(sh), im: tap * Math.sin(sh) };
  return { ff, ft: neg(div(ys, conjT)), tf: neg(div(ys, t)), tt: ytt };
}

const add = (a: Complex, b: Complex): Complex => ({ re: a.re + b.re, im: a.im + b.im });
const mul = (a: Complex, b: Complex): Complex => ({
  re: a.re * b.re - a.im * b.im,
  im: a.re * b.im + a.im * b.re,
});
const conj = (a: Complex): Complex => ({ re: a.re, im: -a.im });
const neg = (a: Complex): Complex => ({ re: -a.re, im: -a.im });
function div(a: Complex, b: Complex): Complex {
  const d = b.re * b.re + b.im * b.im;
  return { re: (a.re * b.re + a.im * b.im) / d, im: (a.im * b.re - a.re * b.im) / d };
}

/** Dense LU with partial pivoting (in place on a copy); `solve` returns x with A x = b. */
function factor(a: Float64Array, n: number) {
  const lu = Float64Array.from(a);
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(lu[i * n + k]!) > Math.abs(lu[p * n + k]!)) p = i;
    if (lu[p * n + k] === 0) throw new Error('singular network Jacobian (an island without a reference?)');
    if (p !== k) {
      for (let c = 0; c < n; c++) {
        const x = lu[k * n + c]!;
        lu[k * n + c] = lu[p * n + c]!;
        lu[p * n + c] = x;
      }
      const x = perm[k]!;
      perm[k] = perm[p]!;
      perm[p] = x;
    }
    const pivot = lu[k * n + k]!;
    for (let i = k + 1; i < n; i++) {
      const f = lu[i * n + k]! / pivot;
      if (f === 0) continue;
      lu[i * n + k] = f;
      for (let c = k + 1; c < n; c++) lu[i * n + c]! -= f * lu[k * n + c]!;
    }
  }
  return {
    solve(b: Float64Array): Float64Array {
      const x = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let s = b[perm[i]!]!;
        for (let c = 0; c < i; c++) s -= lu[i * n + c]! * x[c]!;
        x[i] = s;
      }
      for (let i = n - 1; i >= 0; i--) {
        let s = x[i]!;
        for (let c = i + 1; c < n; c++) s -= lu[i * n + c]! * x[c]!;
        x[i] = s / lu[i * n + i]!;
      }
      return x;
    },
  };
}
