import { writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { buildDataset } from '../../attacks/dataset.ts';
import { RunFolderError, readManifest, readRunPoints } from '../../recording/index.ts';
import { checkInputPath, parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { ExitCode, runtimeError, usageError } from '../exit-codes.ts';

const help = `Usage: gridloop export-dataset <run-dir> [options]

Writes a labelled CSV dataset for detection research from a recorded run (typically one made by
\`gridloop attack\`): one row per recorded instant with every numeric series of the run as a column
(bus voltages, island frequencies, device powers, detector statistics and alarms) and the ground
truth: attack (0/1), attack_ids, attack_kinds. The format is described in docs/security.md.
Only CSV is written (no Parquet).

Options:
  --out FILE   where to write (default: <run-dir>/dataset.csv)
  --json       print one JSON object (file, rows, columns, attack rows) instead of text

Exit codes: 0 written, 2 bad arguments or not a run folder, 3 cannot write.`;

export const exportDatasetCommand: Command = {
  name: 'export-dataset',
  summary: 'write a labelled CSV dataset (features + attack labels) from a run folder',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs('export-dataset', argv, {
      out: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1)
      throw usageError('gridloop export-dataset: give exactly one run folder (see --help)');
    const dir = resolve(positionals[0]);
    checkInputPath('export-dataset', 'run folder', positionals[0], dir);
    let csv: ReturnType<typeof buildDataset>;
    try {
      const manifest = await readManifest(dir);
      const points = await readRunPoints(dir);
      csv = buildDataset(points, BigInt(manifest.start_ns));
    } catch (err) {
      if (err instanceof RunFolderError || (err as Error).name === 'LineProtocolError')
        throw usageError(`gridloop export-dataset: ${(err as Error).message}`);
      throw err;
    }
    const out = values.out ? resolve(values.out) : join(dir, 'dataset.csv');
    try {
      await writeFile(out, csv.csv);
    } catch (err) {
      throw runtimeError(`gridloop export-dataset: cannot write ${out}: ${(err as Error).message}`);
    }
    const summary = {
      file: relative(process.cwd(), out),
      rows: csv.rows,
      columns: csv.columns.length,
      attackRows: csv.attackRows,
    };
    if (values.json) console.log(JSON.stringify(summary));
    else
      console.log(
        `${summary.file}: ${csv.rows} rows (${csv.attackRows} under attack), ${csv.columns.length} columns`,
      );
    return ExitCode.ok;
  },
};
