import { resolve } from 'node:path';
import { LedgerFileError } from '../../../market/ledger/persist.ts';
import { verifyRunLedger } from '../../../market/ledger/persist-replay.ts';
import { checkInputPath, parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { ExitCode, usageError } from '../exit-codes.ts';

const help = `Usage: gridloop ledger verify <run-folder> [--rpc <url>]

Re-executes the market ledger of a run from genesis (<run>/ledger/chain.jsonl, docs/market.md
"The chain in the run folder"): every block's Clique seal and turn, header and re-executed state
root, receipts and gas; then every participant's balance, deposit, debt and reputation, the pool,
the grid account and the money minted as the re-executed contract storage holds them, against
<run>/ledger/accounts.json, and that money is conserved. Prints what does not hold (a block with
its height and why, an account with the recorded and the re-executed figure).

A run on hardhat's EDR or a lab's JSON-RPC node (engine "edr" or "json-rpc" in the chain's header)
holds the market's transactions, not sealed blocks: they are re-executed from the contract's
deployment on the embedded EVM (no network, no EDR needed) — each one's signer, status, gas and
events — then the accounts as above. There are no Clique seals to check (the node sealed its
blocks); the output says so.

Options:
  --rpc <url>   (a node's run) fetch the record's blocks from the node again and compare their
                hashes and the transactions in them

Exit codes: 0 every block and balance holds, 1 something does not hold (named), 2 not a run
folder, no ledger in it, or a file that cannot be read (named).`;

export const ledgerCommand: Command = {
  name: 'ledger',
  summary: "verify a run's market ledger by re-executing its chain from genesis",
  help,
  async run(argv) {
    const { positionals, values } = parseCommandArgs('ledger', argv, { rpc: { type: 'string' } });
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
    let report: Awaited<ReturnType<typeof verifyRunLedger>>;
    try {
      report = await verifyRunLedger(resolve(folder), { rpc: values.rpc });
    } catch (err) {
      if (err instanceof LedgerFileError) throw usageError(`gridloop ledger verify: ${err.message}`);
      throw err;
    }
    const replayed =
      report.engine === 'embedded'
        ? `${report.blocks} blocks re-executed`
        : `${report.transactions} transactions of ${report.blocks} ${report.engine} blocks re-executed`;
    const what = `${replayed}, ${report.participants} accounts checked in ${report.seconds.toFixed(1)} s`;
    if (report.ok) {
      console.log(`ledger holds: ${what}`);
    } else {
      console.log(`ledger does NOT hold (${what}):`);
      for (const p of report.problems) console.log(`  ${p}`);
    }
    if (report.engine !== 'embedded') {
      for (const n of report.notes) console.log(`  note: ${n}`);
      for (const i of report.intervals)
        console.log(`  interval ${i.interval}: ${i.participants} lines settled, penalties ${i.penalties}`);
    }
    if (report.ok) return ExitCode.ok;
    return ExitCode.assertionsFailed;
  },
};
