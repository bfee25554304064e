import { resolve } from 'node:path';
import { LedgerFileError, verifyLedger } from '../../../market/ledger/persist.ts';
import { checkInputPath, parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { ExitCode, usageError } from '../exit-codes.ts';

const help = `Usage: gridloop ledger verify <run-folder>

Re-executes the market ledger of a run from genesis (<run>/ledger/chain.jsonl, docs/market.md
"The chain in the run folder"): every block's Clique seal and turn, header and re-executed state
root, receipts and gas; then every participant's balance, deposit, debt and reputation, the pool,
the grid account and the money minted as the re-executed contract storage holds them, against
<run>/ledger/accounts.json, and that money is conserved. Prints what does not hold (a block with
its height and why, an account with the recorded and the re-executed figure).

Exit codes: 0 every block and balance holds, 1 something does not hold (named), 2 not a run
folder, no ledger in it, or a file that cannot be read (named).`;

export const ledgerCommand: Command = {
  name: 'ledger',
  summary: "verify a run's market ledger by re-executing its chain from genesis",
  help,
  async run(argv) {
    const { positionals } = parseCommandArgs('ledger', argv, {});
    const [action, folder, extra] = positionals;
    if (action !== 'verify')
      throw usageError(
        action === undefined
          ? 'gridloop ledger: missing action; usage: gridloop ledger verify <run-folder>'
          : `gridloop ledger: unknown action '${action}'; usage: gridloop ledger verify <run-folder>`,
      );
    if (folder === undefined) throw usageError('gridloop ledger verify: missing <run-folder>');
    if (extra !== undefined) throw usageError(`gridloop ledger verify: unexpected argument '${extra}'`);
    checkInputPath('ledger verify', 'run folder', folder, resolve(folder));
    let report: Awaited<ReturnType<typeof verifyLedger>>;
    try {
      report = await verifyLedger(resolve(folder));
    } catch (err) {
      if (err instanceof LedgerFileError) throw usageError(`gridloop ledger verify: ${err.message}`);
      throw err;
    }
    const what = `${report.blocks} blocks re-executed, ${report.participants} accounts checked in ${report.seconds.toFixed(1)} s`;
    if (report.ok) {
      console.log(`ledger holds: ${what}`);
      return ExitCode.ok;
    }
    console.log(`ledger does NOT hold (${what}):`);
    for (const p of report.problems) console.log(`  ${p}`);
    return ExitCode.assertionsFailed;
  },
};
