import { fileURLToPath } from 'node:url';
import { type LoopbackServer, startLoopbackServer } from './loopback-server.ts';

const BACKENDS = fileURLToPath(new URL('../../market/ledger/backends/', import.meta.url));

/** True once the node answers eth_chainId. */
async function answers(port: number): Promise<boolean> {
  const r = await fetch(`http://127.0.0.1:${port}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    signal: AbortSignal.timeout(1000),
  });
  return r.ok && 'result' in ((await r.json()) as object);
}

/**
 * Starts `hardhat node` (installed by `npm run ledger:install-backends` into market/ledger/backends/)
 * on 127.0.0.1 on a free port, with market/ledger/backends/hardhat.config.cjs: Berlin rules, gas
 * price 0, automine, the given block gas limit. Stop it with dispose().
 */
export async function startHardhatNode(options: { blockGasLimit?: bigint } = {}): Promise<LoopbackServer> {
  process.env.GRIDLOOP_LEDGER_GAS_LIMIT = String(options.blockGasLimit ?? 30_000_000n);
  process.env.HARDHAT_DISABLE_TELEMETRY_PROMPT = 'true';
  return startLoopbackServer({
    name: 'hardhat-node',
    // Hardhat runs only from inside the project that installed it: cd there, then exec (so the
    // signals reach the node itself).
    command: 'sh',
    isReady: answers,
    readyTimeout_ms: 60_000,
    args: (_dir, port) => [
      '-c',
      'cd "$1" && exec "$2" node_modules/hardhat/internal/cli/cli.js node --config hardhat.config.cjs --hostname 127.0.0.1 --port "$3"',
      'hardhat-node',
      BACKENDS,
      process.execPath,
      String(port),
    ],
  });
}
