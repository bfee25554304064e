import { describe, expect, it } from 'vitest';
import { loadSecurityScenario } from '../../twin/attacks/security.ts';
import { measurementSchema } from '../recording/schema.ts';
import { consensusLines, recordConsensus, runConsensusScenario } from './consensus-scenario.ts';

const SCENARIO = new URL('../../scenarios/attacks/consensus-under-attack.yaml', import.meta.url).pathname;

describe('consensus under attack (scenarios/attacks/consensus-under-attack.yaml)', () => {
  it('rejects each attack, names who rejected it and why, and the balances on every authority stay right', async () => {
    const scenario = await loadSecurityScenario(SCENARIO);
    const r = await runConsensusScenario(scenario);
    const by = Object.fromEntries(r.attacks.map((a) => [a.id, a]));
    expect(r.settled).toBe(3);
    for (const a of r.attacks) expect(a.detected, `${a.id}: ${a.reasons.join('; ')}`).toBe(true);
    // Clique refuses the outsider's seal on every authority.
    expect(by.outsider.rejectedBy.sort()).toEqual(['authority0', 'authority1', 'authority2']);
    for (const reason of by.outsider.reasons)
      expect(reason).toMatch(/invalid clique difficulty|invalid PoA block signature/);
    // The two honest authorities re-execute the corrupted authority's block and refuse its state root.
    expect(by['forged-root'].rejectedBy).toHaveLength(2);
    expect(by['forged-root'].rejectedBy).not.toContain(by['forged-root'].target);
    for (const reason of by['forged-root'].reasons) expect(reason).toMatch(/state ?root/i);
    // The conflicting vote of authority1 is outvoted by the two others.
    expect(by.conflicting.target).toBe('authority1');
    expect(by.conflicting.rejectedBy.sort()).toEqual(['authority0', 'authority2']);
    // The second block at one height does not extend anyone's head.
    expect(by.equivocation.rejectedBy).toHaveLength(3);
    for (const reason of by.equivocation.reasons) expect(reason).toMatch(/does not extend its head/);
    // pv-24 is in MG1, whose meters authority0 keeps: the forged value fails the meter's signature.
    expect(by['forged-meter'].rejectedBy).toEqual(['meters@authority0']);
    expect(by['forged-meter'].reasons[0]).toMatch(/^bad-signature/);
    expect(by.offline.rejectedBy).toEqual(['chain']);
    expect(r.falseAlarms).toEqual([]);
    // Balances, deposits and debts of every participant on every authority = the unattacked chain.
    expect(r.participantsChecked).toBeGreaterThan(10);
    expect(r.balanceMismatches).toEqual([]);
    expect(new Set(Object.values(r.balanceTotals)).size).toBe(1);
    // The chain's decisions name the attack they belong to.
    expect(r.decisions.some((d) => d.outcome === 'refused' && d.attack === 'forged-root')).toBe(true);
    expect(r.decisions.some((d) => d.outcome === 'offline' && d.authority === 'authority2')).toBe(true);
    expect(r.passed).toBe(true);
    expect(consensusLines(r).at(-1)).toMatch(/PASS {2}balances right/);
    // Its points: chain decisions, attack labels and who detected them, all in the recorded schema.
    const points: { m: string; tags: Record<string, string | undefined>; fields: Record<string, unknown> }[] =
      [];
    recordConsensus(
      r,
      (m, tags, fields) => points.push({ m, tags, fields }),
      (t) => BigInt(Math.round(t * 1e9)),
    );
    for (const p of points) {
      const schema = measurementSchema(p.m)!;
      for (const t of Object.keys(p.tags)) expect(schema.tags).toContain(t);
      for (const f of Object.keys(p.fields)) expect(Object.keys(schema.fields)).toContain(f);
    }
    expect(points.filter((p) => p.m === 'attack')).toHaveLength(6);
    expect(points.some((p) => p.m === 'detection' && p.tags.detector === 'meters@authority0')).toBe(true);
    expect(points.filter((p) => p.m === 'chain' && p.tags.outcome === 'balances')).toHaveLength(3);
    // The forged reading, refused by the register of pv-24's authority, is a chain point of its own.
    const readings = points.filter((p) => p.m === 'chain' && p.tags.outcome === 'reading-refused');
    expect(readings.map((p) => [p.tags.authority, p.fields.proposer, p.fields.attack])).toEqual([
      ['authority0', 'meter:pv-24', 'forged-meter'],
    ]);
    // Every participant's account after each settled interval; its last balances are the storage's.
    const accounts = points.filter((p) => p.m === 'market_account');
    expect(accounts).toHaveLength(r.participantsChecked * r.settled);
    const last = accounts.slice(-r.participantsChecked);
    expect(last.reduce((s, p) => s + (p.fields.balance as number), 0)).toBe(
      Number(Object.values(r.balanceTotals)[0]),
    );
    // A penalty is what left the deposit plus what was added to the debt.
    for (const p of accounts) expect(p.fields.penalty as number).toBeGreaterThanOrEqual(0);
  }, 300_000);
});
