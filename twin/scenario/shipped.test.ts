import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { budget } from '../../test/support/machine-speed.ts';
import { loadScenario } from './load.ts';
import { buildScenarioTwin, runScenario } from './runner.ts';

const shipped = readdirSync('scenarios').filter((f) => f.endsWith('.yaml'));
/**
 * Run in full in their own files (day-24h-ems.test.ts, test/activsg2000-scenario.test.ts,
 * test/vpp-demo-day.test.ts: a VPP scenario needs the bench to attach its VPP; market-day.yaml needs
 * the market, outside the twin: a 2 h slice in bench/market/market-day.test.ts, the day in bench:market-day;
 * vpp-market.yaml needs both: a 15 min slice in bench/market/vpp-market.test.ts).
 */
const OWN_FILE = [
  'day-24h-ems.yaml',
  'transmission-activsg2000-trip.yaml',
  'vpp-demo-day.yaml',
  'market-day.yaml',
  'vpp-market.yaml',
];

/** Every shipped scenario passes: none is shipped to fail. Attack scenarios: test/attack-scenarios.test.ts. */
describe('shipped scenarios', () => {
  it.each(shipped)('%s loads and every id it names exists in its grid', async (file) => {
    const s = await loadScenario(`scenarios/${file}`);
    await expect(buildScenarioTwin(s, s.dt_s, { script: false })).resolves.toBeDefined();
  });

  it.each(shipped.filter((f) => !OWN_FILE.includes(f)))(
    '%s runs at its own step and passes every assertion it makes',
    { timeout: budget(120_000) },
    async (file) => {
      const result = await runScenario(await loadScenario(`scenarios/${file}`));
      expect(result.assertions.length).toBeGreaterThan(0);
      expect(result.assertions.filter((a) => !a.passed).map((a) => `${a.name}: ${a.detail}`)).toEqual([]);
      expect(result.passed).toBe(true);
    },
  );

  it('island-transition (the classroom flow’s) also passes at the flow’s 5 ms step', async () => {
    const result = await runScenario(await loadScenario('scenarios/island-transition.yaml'), { dt_s: 0.005 });
    expect(result.assertions.filter((a) => !a.passed)).toEqual([]);
  });
});
