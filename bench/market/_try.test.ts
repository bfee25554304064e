import { it } from 'vitest';
import { attackRecorded } from '../attacks/attack-run.ts';
import { loadSecurityScenario } from '../../twin/attacks/security.ts';
import { consensusLines } from './consensus-scenario.ts';
it('try', async () => {
  const s = await loadSecurityScenario(new URL('../../scenarios/attacks/consensus-under-attack.yaml', import.meta.url).pathname);
  const r = await attackRecorded(s, { every_s: 60 });
  console.log(JSON.stringify(r.result.metrics.attacks.map((a) => [a.id, a.detected, a.detectedBy, a.timeToDetect_s])));
  console.log(JSON.stringify(r.result.metrics.detectors));
  console.log(consensusLines(r.ledger!).join('\n'));
  console.log(JSON.stringify(r.result.expectations.map((e) => [e.name, e.passed, e.detail])));
}, 300000);
