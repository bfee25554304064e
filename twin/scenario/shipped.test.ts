import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadScenario } from './load.ts';
import { buildScenarioTwin, runScenario } from './runner.ts';

const shipped = readdirSync('scenarios').filter((f) => f.endsWith('.yaml'));

describe('shipped scenarios', () => {
  it.each(shipped)('%s loads and every id it names exists in its grid', async (file) => {
    const s = await loadScenario(`scenarios/${file}`);
    await expect(buildScenarioTwin(s, s.dt_s, { script: false })).resolves.toBeDefined();
  });

  it('island-transition (the classroom flow’s) passes its own assertions', async () => {
    const result = await runScenario(await loadScenario('scenarios/island-transition.yaml'), { dt_s: 0.005 });
    expect(result.assertions.filter((a) => !a.passed)).toEqual([]);
  });
});
