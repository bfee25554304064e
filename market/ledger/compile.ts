/**
 * Compiles market/ledger/MarketLedger.sol with the `solc` package (no compiler download) into
 * MarketLedger.json (ABI + bytecode), which is committed so that the runtime needs no compiler.
 *   node --import tsx market/ledger/compile.ts        (writes the JSON)
 * The test recompiles and checks the committed JSON still matches the source.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const SOURCE_PATH = fileURLToPath(new URL('./MarketLedger.sol', import.meta.url));
export const ARTIFACT_PATH = fileURLToPath(new URL('./MarketLedger.json', import.meta.url));
/** The chain runs the Berlin rules (pre-London: no base fee), so the code targets Berlin too. */
export const EVM_VERSION = 'berlin';

export interface Artifact {
  contract: string;
  solc: string;
  evmVersion: string;
  abi: unknown[];
  bytecode: string;
}

export function compile(): Artifact {
  const solc = createRequire(import.meta.url)('solc') as {
    compile(input: string): string;
    version(): string;
  };
  const input = {
    language: 'Solidity',
    sources: { 'MarketLedger.sol': { content: readFileSync(SOURCE_PATH, 'utf8') } },
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: { enabled: true, runs: 200 },
      viaIR: true,
      outputSelection: { '*': { MarketLedger: ['abi', 'evm.bytecode.object'] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: { severity: string; formattedMessage: string }[];
    contracts: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>;
  };
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  const c = out.contracts['MarketLedger.sol'].MarketLedger;
  return {
    contract: 'MarketLedger',
    solc: solc.version(),
    evmVersion: EVM_VERSION,
    abi: c.abi,
    bytecode: `0x${c.evm.bytecode.object}`,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(ARTIFACT_PATH, `${JSON.stringify(compile(), null, 2)}\n`);
  console.log(`wrote ${ARTIFACT_PATH}`);
}
