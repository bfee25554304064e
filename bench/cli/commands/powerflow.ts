import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadGridWithLocations } from '../../../twin/grid/load.ts';
import { GridInputError } from '../../../twin/grid/model.ts';
import { gridToYaml } from '../../../twin/grid/yaml.ts';
import {
  checkIslandReferences,
  type PowerFlowMethod,
  PowerFlowOptionError,
  PowerFlowSolver,
} from '../../../twin/powerflow/index.ts';
import { checkInputPath, numberOption, parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { ExitCode, runtimeError, usageError } from '../exit-codes.ts';

const help = `Usage: gridloop powerflow <case-file> [options]

Solves the AC power flow of a grid file: a MATPOWER case (.m) or a gridloop YAML grid
(.yaml/.yml, docs/grid-format.md). Each island is solved on its own; buses are listed in file
order with their ids as in the file.

Options:
  --json                 print one JSON object:
                         {converged, iterations, islands, buses:[{id, vm, va_deg}],
                          losses:{p_mw, q_mvar}, max_mismatch}; each island says which start
                         was used, which buses Q limits switched to PQ and which bus became
                         the slack (docs/cli.md)
  --enforce-q-limits     switch generators to fixed Q at their reactive limits (PV→PQ) by
                         MATPOWER's rules: the slack bus too; when it is switched, the first
                         remaining PV bus becomes the slack and angles stay on the original
                         reference
  --unlimited-slack-q    with --enforce-q-limits, never limit the slack bus (the behaviour
                         before MATPOWER's rules; IEEE CDF solutions were computed this way)
  --method M             nr (Newton–Raphson), sweep (radial backward/forward sweep) or auto
                         (sweep where an island is radial with one source; default)
  --flat-start           start from 1 pu / reference angle instead of the voltages stored in the
                         file; if Newton fails from there, from DC power-flow angles, then with
                         step-size control
  --tolerance PU         largest acceptable P/Q mismatch, pu (default 1e-8)
  --max-iterations N     Newton iterations (default 20)
  --export-yaml FILE     also write the grid to FILE in the YAML grid format

Exit codes: 0 converged, 2 bad option or grid file (named with file:line), 3 did not converge
(the result, with its final mismatch, is still printed).`;

const round = (x: number, digits: number) => Number(x.toFixed(digits));

export const powerflowCommand: Command = {
  name: 'powerflow',
  summary: 'solve the AC power flow of a MATPOWER or YAML grid file',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs('powerflow', argv, {
      json: { type: 'boolean' },
      'enforce-q-limits': { type: 'boolean' },
      'unlimited-slack-q': { type: 'boolean' },
      method: { type: 'string' },
      'flat-start': { type: 'boolean' },
      tolerance: { type: 'string' },
      'max-iterations': { type: 'string' },
      'export-yaml': { type: 'string' },
    });
    if (positionals.length !== 1) {
      throw usageError(
        positionals.length === 0
          ? 'gridloop powerflow: missing <case-file>'
          : `gridloop powerflow: unexpected argument '${positionals[1]}'`,
      );
    }
    const method = (values.method ?? 'auto') as PowerFlowMethod;
    if (!['nr', 'sweep', 'auto'].includes(method)) {
      throw usageError(`gridloop powerflow: --method must be nr, sweep or auto, got '${values.method}'`);
    }
    const tolerance_pu = numberOption('powerflow', 'tolerance', values.tolerance, 1e-8, 1e-14, 1);
    const maxIterations = numberOption('powerflow', 'max-iterations', values['max-iterations'], 20, 1, 1000);
    const file = positionals[0]!;
    checkInputPath('powerflow', 'grid file', file, resolve(file));

    let grid: ReturnType<typeof loadGridWithLocations>['grid'];
    try {
      const loaded = loadGridWithLocations(file);
      grid = loaded.grid;
      checkIslandReferences(grid, file, loaded.locate);
    } catch (err) {
      if (err instanceof GridInputError) throw usageError(`gridloop powerflow: ${err.message}`);
      throw err;
    }
    if (values['export-yaml']) {
      try {
        writeFileSync(
          values['export-yaml'],
          gridToYaml(grid, { header: `gridloop grid exported from ${file}` }),
        );
      } catch (err) {
        throw runtimeError(
          `gridloop powerflow: cannot write ${values['export-yaml']}: ${(err as Error).message}`,
        );
      }
    }
    let pf: PowerFlowSolver;
    try {
      pf = new PowerFlowSolver(grid, {
        method,
        tolerance_pu,
        maxIterations: Math.round(maxIterations),
        enforceQLimits: values['enforce-q-limits'] === true,
        limitReferenceQ: values['unlimited-slack-q'] !== true,
        flatStart: values['flat-start'] === true,
      });
    } catch (err) {
      if (err instanceof PowerFlowOptionError)
        throw usageError(`gridloop powerflow: ${file}: ${err.message}`);
      throw err;
    }
    let result: ReturnType<PowerFlowSolver['solve']>;
    try {
      result = pf.solve();
    } catch (err) {
      if (err instanceof PowerFlowOptionError)
        throw usageError(`gridloop powerflow: ${file}: ${err.message}`);
      throw err;
    }
    const n = grid.branches.length;
    const flows = {
      pf: new Float64Array(n),
      qf: new Float64Array(n),
      pt: new Float64Array(n),
      qt: new Float64Array(n),
    };
    const losses = pf.branchFlows(flows);
    const islands = pf.islands.map((island) => {
      const r = result.islands[island.index]!;
      const switched = Array.from(island.buses)
        .filter((b) => pf.busQLimit[b] !== 0)
        .map((b) => ({ bus: grid.buses[b]!.id, limit: pf.busQLimit[b]! > 0 ? 'qmax' : 'qmin' }));
      return {
        reference: island.referenceBus >= 0 ? grid.buses[island.referenceBus]!.id : null,
        slack_bus: r.slackBus >= 0 ? grid.buses[r.slackBus]!.id : null,
        status: r.status,
        method: r.method,
        start: r.start,
        iterations: r.iterations,
        buses: island.buses.length,
        slack_p_mw: r.slackP_mw,
        switched_to_pq: switched,
        max_mismatch: Number.isFinite(r.maxMismatch_pu) ? r.maxMismatch_pu : null,
      };
    });
    const buses = grid.buses.map((bus, i) => ({ id: bus.id, vm: pf.vm_pu[i]!, va_deg: pf.va_deg[i]! }));
    if (values.json) {
      console.log(
        JSON.stringify({
          converged: result.converged,
          iterations: result.iterations,
          islands,
          buses,
          losses: { p_mw: losses.p_mw, q_mvar: losses.q_mvar },
          max_mismatch: result.maxMismatch_pu,
        }),
      );
    } else {
      console.log(
        `${grid.name}: ${result.converged ? 'converged' : 'NOT converged'} in ${result.iterations} iterations, ` +
          `max mismatch ${result.maxMismatch_pu.toExponential(2)} pu, ${grid.buses.length} buses, ${islands.length} island(s)`,
      );
      for (const island of islands) {
        console.log(
          `  island ref ${island.reference ?? '-'}: ${island.status} (${island.method}, ${island.start} start, ` +
            `${island.iterations} it, ${island.buses} buses, slack ${round(island.slack_p_mw, 4)} MW)`,
        );
        if (island.switched_to_pq.length > 0) {
          console.log(
            `    Q limits: ${island.switched_to_pq.map((s) => `${s.bus} at ${s.limit}`).join(', ')} switched to PQ` +
              (island.slack_bus !== island.reference ? `; bus ${island.slack_bus} became the slack` : ''),
          );
        }
      }
      console.log(`  losses ${round(losses.p_mw, 6)} MW, ${round(losses.q_mvar, 6)} Mvar`);
      console.log('  bus        vm (pu)   va (deg)');
      for (const b of buses) {
        console.log(`  ${b.id.padEnd(10)} ${b.vm.toFixed(5)}  ${b.va_deg.toFixed(4).padStart(9)}`);
      }
    }
    return result.converged ? ExitCode.ok : ExitCode.runtime;
  },
};
