/**
 * Sizes of the reference firmware on Cortex-M4 and Cortex-M0+ (arm-none-eabi-gcc -Os, newlib-nano):
 * text/data/bss per module, the protocol library's flash, the board images, the RAM of one link
 * context and the worst-case stack (gcc -fstack-usage call graph), each against its budget in
 * docs/firmware.md. Builds the images first (cached under node_modules/.cache/gridloop-target).
 *   npm run bench:firmware-size
 * Ends with one JSON line; exits 1 when a figure is over budget.
 */
import {
  buildTargetImages,
  TARGET_BUDGETS,
  TARGET_CPUS,
  targetBudgetViolations,
  targetReport,
} from '../firmware-protocol/host/target.ts';

const started = performance.now();
const images = await buildTargetImages();
const buildS = (performance.now() - started) / 1000;
const report = await targetReport(images);
const violations = targetBudgetViolations(report);

for (const cpu of TARGET_CPUS) {
  const r = report[cpu];
  console.log(`${cpu}:`);
  console.log('  module           text   data    bss');
  for (const [name, s] of Object.entries(r.modules)) {
    console.log(
      `  ${name.padEnd(14)} ${[s.text, s.data, s.bss].map((n) => String(n).padStart(6)).join(' ')}`,
    );
  }
  console.log(`  protocol library flash ${r.library.flash} B (budget ${TARGET_BUDGETS.libraryFlash})`);
  console.log(`  link context RAM ${r.linkContextRam} B (budget ${TARGET_BUDGETS.linkContextRam})`);
  for (const kind of ['battery', 'inverter'] as const) {
    const b = r.boards[kind];
    const st = r.stack[kind];
    console.log(
      `  ${kind} image: text ${b.text} data ${b.data} bss ${b.bss}; worst-case stack ${st.worst} B ` +
        `(main ${st.mainBytes} + interrupt ${st.interruptBytes} + frame ${st.exceptionFrameBytes}; budget ${TARGET_BUDGETS.stack})`,
    );
  }
  console.log(`  deepest path: ${r.stack.battery.mainPath.join(' → ')}`);
}
for (const v of violations) console.error(`over budget: ${v}`);

const figures = Object.fromEntries(
  TARGET_CPUS.map((cpu) => {
    const r = report[cpu];
    return [
      cpu,
      {
        modules: r.modules,
        library_flash_b: r.library.flash,
        link_context_ram_b: r.linkContextRam,
        battery_image: r.boards.battery,
        inverter_image: r.boards.inverter,
        stack_worst_b: Math.max(r.stack.battery.worst, r.stack.inverter.worst),
      },
    ];
  }),
);
console.log(
  JSON.stringify({
    bench: 'firmware-size',
    build_s: Number(buildS.toFixed(1)),
    budgets: TARGET_BUDGETS,
    within_budget: violations.length === 0,
    ...figures,
  }),
);
process.exitCode = violations.length === 0 ? 0 : 1;
