/**
 * Security benchmark (npm run bench:security): cost of one state-estimation evaluation on MG2 of
 * the demo system (13 buses, 63 measurements, χ² + largest normalised residual), the per-step cost
 * of the attack engine and physics checks on top of the twin, and the wall time of the attack
 * scenario library's SE scenario. Ends with one JSON line.
 */
import { join } from 'node:path';
import { loadSecurityScenario, runSecurityScenario, SecurityHarness } from '../twin/attacks/security.ts';
import { buildScenarioTwin } from '../twin/scenario/runner.ts';

const root = join(import.meta.dirname, '..');
const scenario = await loadSecurityScenario(join(root, 'scenarios/attacks/fdia-bias-voltage.yaml'));

// 1. One SE evaluation, forced every step.
const twin = await buildScenarioTwin(scenario);
for (let i = 0; i < 50; i++) twin.step([]);
const harness = new SecurityHarness(twin, { estimation: { island: 'MG2', every_steps: 1 } });
const se = harness.se!;
for (let i = 0; i < 20; i++) se.update(twin.state); // warm-up
const nSe = 200;
let t0 = performance.now();
for (let i = 0; i < nSe; i++) se.update(twin.state);
const seEval_ms = (performance.now() - t0) / nSe;
console.log(
  `state estimation: ${seEval_ms.toFixed(2)} ms per evaluation (m = ${se.estimator.m}, n = ${se.estimator.nState}, ${se.last?.iterations} Gauss-Newton iterations)`,
);

// 2. Twin step with and without the board, engine and checks of a physics scenario.
const phys = await loadSecurityScenario(join(root, 'scenarios/attacks/fdia-ramp-frequency.yaml'));
const bare = await buildScenarioTwin(phys);
const steps = 2000;
for (let i = 0; i < 200; i++) bare.step([]);
t0 = performance.now();
for (let i = 0; i < steps; i++) bare.step([]);
const bareStep_us = ((performance.now() - t0) * 1000) / steps;
const attacked = await buildScenarioTwin(phys);
const h = new SecurityHarness(attacked, phys.security);
for (let i = 0; i < 200; i++) h.afterStep(attacked.step(h.inputs()));
t0 = performance.now();
for (let i = 0; i < steps; i++) h.afterStep(attacked.step(h.inputs()));
const harnessStep_us = ((performance.now() - t0) * 1000) / steps;
console.log(
  `twin step (dt 10 ms): ${bareStep_us.toFixed(0)} µs bare, ${harnessStep_us.toFixed(0)} µs with board, attack and checks`,
);

// 3. The SE scenario end to end (30 s simulated, SE every 0.1 s).
t0 = performance.now();
const r = await runSecurityScenario(scenario);
const scenarioWall_s = (performance.now() - t0) / 1000;
console.log(
  `${scenario.name}: ${scenario.duration_s} s simulated in ${scenarioWall_s.toFixed(2)} s; detected after ${r.metrics.attacks[0].timeToDetect_s?.toFixed(2)} s; passed ${r.passed}`,
);
console.log(
  JSON.stringify({
    bench: 'security',
    seEval_ms: Number(seEval_ms.toFixed(3)),
    seMeasurements: se.estimator.m,
    seStates: se.estimator.nState,
    bareStep_us: Number(bareStep_us.toFixed(1)),
    harnessStep_us: Number(harnessStep_us.toFixed(1)),
    scenarioWall_s: Number(scenarioWall_s.toFixed(2)),
    scenarioSimulated_s: scenario.duration_s,
    timeToDetect_s: r.metrics.attacks[0].timeToDetect_s,
  }),
);
