import { resolve } from 'node:path';
import { RunFolderError } from '../../recording/index.ts';
import { generateReport } from '../../reports/index.ts';
import { checkInputPath, parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { ExitCode, usageError } from '../exit-codes.ts';

const help = `Usage: gridloop report <run-folder> [options]

Writes a self-contained HTML report (the run's verdict and the assertions it rests on; IEEE
1547-2018 checks on the recording, as information; plots of frequency, bus voltages, device power
and SoC with events marked; the event log) and a JUnit XML file for CI into the run folder, and
prints where they are. The verdict is the one the run recorded in manifest.json (the same as the
exit code of the simulate, attack or run command that made it), not judged again.

Options:
  --out DIR              write report.html and junit.xml to DIR instead of the run folder
  --category I|II|III    IEEE 1547 performance category for the checks (default: the manifest's
                         ieee1547Category, else II)

Exit codes: 0 the run's verdict is passed (it completed and every assertion passed), 1 it failed
or the run is incomplete, 2 not a run folder or a damaged file (named).`;

export const reportCommand: Command = {
  name: 'report',
  summary: 'write the HTML report and JUnit XML of a recorded run; exit code = verdict',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs('report', argv, {
      out: { type: 'string' },
      category: { type: 'string' },
    });
    if (positionals.length !== 1) {
      throw usageError(
        positionals.length === 0
          ? 'gridloop report: missing <run-folder>'
          : `gridloop report: unexpected argument '${positionals[1]}'`,
      );
    }
    const category = values.category;
    if (category !== undefined && category !== 'I' && category !== 'II' && category !== 'III') {
      throw usageError(`gridloop report: --category must be I, II or III, got '${category}'`);
    }
    let result: Awaited<ReturnType<typeof generateReport>>;
    try {
      checkInputPath('report', 'run folder', positionals[0]!, resolve(positionals[0]!));
      result = await generateReport(resolve(positionals[0]!), {
        outDir: values.out === undefined ? undefined : resolve(values.out),
        category,
      });
    } catch (err) {
      if (err instanceof RunFolderError || (err as Error).name === 'LineProtocolError') {
        throw usageError(`gridloop report: ${(err as Error).message}`);
      }
      throw err;
    }
    console.log(`report: ${result.htmlPath}`);
    console.log(`junit:  ${result.junitPath}`);
    console.log(
      `${result.passed ? 'PASSED' : 'FAILED'} (${result.verdict.summary}): ${result.tests} tests, ${result.failures} failures, ${result.errors} errors`,
    );
    return result.passed ? ExitCode.ok : ExitCode.assertionsFailed;
  },
};
