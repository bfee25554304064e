/**
 * Ledger engines that speak Ethereum JSON-RPC, through viem: a lab's own chain at a URL
 * (`json-rpc`), or hardhat's EDR running in this process as an EIP-1193 provider (`edr`).
 *
 * viem, hardhat and EDR are heavy (≈ 380 MB together), so they are not dependencies of the project:
 * `npm run ledger:install-backends` installs them, pinned, into market/ledger/backends/ (its own
 * package.json and lock), and they are loaded from there by path (docs/market.md, "Ledger engines").
 *
 * Transactions are signed here with the authorities' keys and sent one after the other with
 * explicit nonces (concurrent sends from one account fail under automine: "Nonce too high").
 * A batch is all or nothing where the node offers `evm_snapshot`/`evm_revert` (hardhat, EDR, anvil):
 * a failing transaction reverts the node to its state before the batch.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bytesToHex, hexToBytes } from './abi.ts';
import { authorityKey, LedgerError } from './chain.ts';
import {
  type CommittedBlock,
  EmbeddedEngine,
  type EngineCall,
  type EngineKind,
  type LedgerEngine,
} from './engine.ts';

export const BACKENDS_DIR = fileURLToPath(new URL('./backends/', import.meta.url));
/** Gas limit of an EDR chain's blocks unless said otherwise (hardhat's default). */
export const EDR_BLOCK_GAS_LIMIT = 30_000_000n;
/** Our chains run the Berlin rules, as the embedded one does (the contract is compiled for Berlin). */
const HARDFORK = 'berlin';
const CHAIN_ID = 31_337;

/** Loads a package installed in market/ledger/backends/, or says how to install it. */
export async function loadBackend<T>(name: string): Promise<T> {
  let path: string;
  try {
    path = createRequire(join(BACKENDS_DIR, 'package.json')).resolve(name);
  } catch {
    throw new LedgerError(
      `the ledger backend package '${name}' is not installed: run 'npm run ledger:install-backends' (docs/market.md, "Ledger engines")`,
    );
  }
  return (await import(pathToFileURL(path).href)) as T;
}

export interface Eip1193Provider {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

type Hex = `0x${string}`;
/** The part of viem this adapter uses (viem is loaded by path, so its own types are not at hand). */
interface Viem {
  custom(provider: Eip1193Provider): unknown;
  http(url: string, options?: { timeout?: number; retryCount?: number }): unknown;
  createPublicClient(o: { transport: unknown; chain?: unknown }): PublicClient;
  createWalletClient(o: { transport: unknown; account: unknown; chain?: unknown }): WalletClient;
  defineChain(o: unknown): unknown;
}
interface PublicClient {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
  getBlock(o?: { blockNumber?: bigint }): Promise<{
    number: bigint;
    hash: Hex;
    gasLimit: bigint;
    gasUsed: bigint;
    miner: Hex;
  }>;
  getChainId(): Promise<number>;
  getGasPrice(): Promise<bigint>;
  getTransactionCount(o: { address: Hex; blockTag?: string }): Promise<number>;
  waitForTransactionReceipt(o: { hash: Hex; pollingInterval?: number; timeout?: number }): Promise<{
    status: 'success' | 'reverted';
    blockNumber: bigint;
    contractAddress?: Hex | null;
  }>;
  call(o: { to: Hex; data: Hex; account?: Hex; gas?: bigint }): Promise<{ data?: Hex }>;
}
interface WalletClient {
  sendTransaction(o: {
    to?: Hex;
    data: Hex;
    gas?: bigint;
    gasPrice: bigint;
    nonce: number;
    type: 'legacy';
  }): Promise<Hex>;
}

export interface RpcEngineOptions {
  kind: 'edr' | 'json-rpc';
  /** An EIP-1193 provider in this process, or a node's HTTP URL. */
  transport: { provider: Eip1193Provider } | { url: string };
  /** The authorities' private keys (they sign every transaction). */
  keys: readonly Uint8Array[];
  /** Gas price of every transaction; default: the node's eth_gasPrice. */
  gasPrice?: bigint;
  /** How long to wait for one receipt, ms. @default 60000 */
  receiptTimeout_ms?: number;
  /** Called by close() (e.g. to drop an in-process provider). */
  onClose?: () => Promise<void>;
}

export class RpcEngine implements LedgerEngine {
  /**
   * Hashes of every transaction this engine put on the node's chain that stayed there, in the
   * order sent (a batch the node reverted with evm_revert is not among them): what persistReplayLedger
   * writes into a run folder (persist-replay.ts).
   */
  readonly transactions: string[] = [];
  /** The blocks of those transactions, as each batch became final (as the embedded chain's log). */
  readonly committed: CommittedBlock[] = [];

  private constructor(
    readonly kind: 'edr' | 'json-rpc',
    /** The node's chain id (EIP-155: every transaction is signed for it). */
    readonly chainId: number,
    readonly authorities: readonly string[],
    readonly readers: readonly string[],
    readonly blockGasLimit: bigint,
    private readonly client: PublicClient,
    private readonly wallets: readonly WalletClient[],
    private readonly gasPrice: bigint,
    private readonly options: RpcEngineOptions,
  ) {}

  static async create(options: RpcEngineOptions): Promise<RpcEngine> {
    if (options.keys.length === 0)
      throw new LedgerError('a JSON-RPC ledger needs at least one authority key');
    const viem = await loadBackend<Viem>('viem');
    const { privateKeyToAccount } = await loadBackend<{
      privateKeyToAccount(key: Hex): { address: Hex };
    }>('viem/accounts');
    const transport =
      'provider' in options.transport
        ? viem.custom(options.transport.provider)
        : viem.http(options.transport.url, { timeout: 30_000, retryCount: 0 });
    const probe = viem.createPublicClient({ transport });
    let chainId: number;
    let gasLimit: bigint;
    try {
      chainId = await probe.getChainId();
      gasLimit = (await probe.getBlock()).gasLimit;
    } catch (e) {
      const where = 'url' in options.transport ? options.transport.url : 'the provider';
      throw new LedgerError(`cannot reach the chain at ${where}: ${shortMessage(e)}`);
    }
    const chain = viem.defineChain({
      id: chainId,
      name: `gridloop-${options.kind}`,
      nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      rpcUrls: {
        default: { http: ['url' in options.transport ? options.transport.url : 'http://in-process'] },
      },
    });
    const client = viem.createPublicClient({ transport, chain });
    const accounts = options.keys.map((k) => privateKeyToAccount(bytesToHex(k) as Hex));
    const wallets = accounts.map((account) => viem.createWalletClient({ transport, account, chain }));
    const gasPrice = options.gasPrice ?? (await client.getGasPrice());
    // The node's name in reports and points: its URL without credentials.
    const reader = 'url' in options.transport ? withoutCredentials(options.transport.url) : options.kind;
    return new RpcEngine(
      options.kind,
      chainId,
      accounts.map((a) => a.address.toLowerCase()),
      [reader],
      gasLimit,
      client,
      wallets,
      gasPrice,
      options,
    );
  }

  async submit(groups: readonly (readonly EngineCall[])[]): Promise<CommittedBlock[]> {
    const calls = groups.flat();
    const snapshot = await this.snapshot();
    const nonces = new Map<number, number>();
    const sent: { hash: Hex; index: number }[] = [];
    try {
      for (const [index, c] of calls.entries()) {
        const from = c.from ?? 0;
        const wallet = this.wallets[from];
        if (!wallet) throw new LedgerError(`no authority ${from}: the chain has ${this.wallets.length}`);
        const nonce =
          nonces.get(from) ??
          (await this.client.getTransactionCount({
            address: this.authorities[from] as Hex,
            blockTag: 'pending',
          }));
        nonces.set(from, nonce + 1);
        let hash: Hex;
        try {
          hash = await wallet.sendTransaction({
            to: c.to as Hex | undefined,
            data: bytesToHex(c.data) as Hex,
            gas: c.gas,
            gasPrice: this.gasPrice,
            nonce,
            type: 'legacy',
          });
        } catch (e) {
          throw new LedgerError(`transaction ${index + 1} of ${calls.length} reverted: ${shortMessage(e)}`);
        }
        sent.push({ hash, index });
      }
      const numbers = new Set<bigint>();
      for (const s of sent) {
        const receipt = await this.client.waitForTransactionReceipt({
          hash: s.hash,
          pollingInterval: 20,
          timeout: this.options.receiptTimeout_ms ?? 60_000,
        });
        if (receipt.status !== 'success')
          throw new LedgerError(
            `transaction ${s.index + 1} of ${calls.length} (${s.hash}) reverted: ${await this.reasonOf(calls[s.index])}`,
          );
        numbers.add(receipt.blockNumber);
      }
      const blocks: CommittedBlock[] = [];
      for (const n of [...numbers].sort((a, b) => (a < b ? -1 : 1))) {
        const b = await this.client.getBlock({ blockNumber: n });
        blocks.push({
          number: b.number,
          hash: b.hash,
          gasUsed: b.gasUsed,
          proposer: b.miner,
          acceptedBy: [this.readers[0]],
          rejectedBy: [],
        });
      }
      this.transactions.push(...sent.map((s) => s.hash));
      this.committed.push(...blocks);
      return blocks;
    } catch (e) {
      if (snapshot !== undefined) {
        await this.client.request({ method: 'evm_revert', params: [snapshot] });
        throw e;
      }
      // They changed the node's state: the record of the chain keeps them (reverted or not).
      this.transactions.push(...sent.map((s) => s.hash));
      const msg = e instanceof LedgerError ? e.message : shortMessage(e);
      throw new LedgerError(
        `${msg} (the node has no evm_snapshot: the ${sent.length} transactions sent before stay on its chain)`,
      );
    }
  }

  async call(to: string, data: Uint8Array, reader = 0): Promise<Uint8Array> {
    if (reader !== 0) throw new LedgerError(`no reader ${reader}: a JSON-RPC ledger reads from its one node`);
    try {
      const r = await this.client.call({
        to: to as Hex,
        data: bytesToHex(data) as Hex,
        account: this.authorities[0] as Hex,
      });
      return hexToBytes(r.data ?? '0x');
    } catch (e) {
      throw new LedgerError(`call reverted: ${shortMessage(e)}`);
    }
  }

  /** A raw JSON-RPC request to the node (blocks, transactions and receipts for the run's record). */
  request(method: string, params: unknown[] = []): Promise<unknown> {
    return this.client.request({ method, params });
  }

  async nonceOf(from: number): Promise<bigint> {
    return BigInt(
      await this.client.getTransactionCount({ address: this.authorities[from] as Hex, blockTag: 'pending' }),
    );
  }

  async close(): Promise<void> {
    await this.options.onClose?.();
  }

  private async snapshot(): Promise<string | undefined> {
    try {
      return (await this.client.request({ method: 'evm_snapshot' })) as string;
    } catch {
      return undefined;
    }
  }

  private async reasonOf(c: EngineCall | undefined): Promise<string> {
    if (!c?.to) return 'no reason';
    try {
      await this.client.call({
        to: c.to as Hex,
        data: bytesToHex(c.data) as Hex,
        account: this.authorities[c.from ?? 0] as Hex,
        gas: c.gas,
      });
      return 'no reason';
    } catch (e) {
      return shortMessage(e);
    }
  }
}

function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}

/** viem's errors carry several paragraphs; the reason is in `details` or `shortMessage`. */
function shortMessage(e: unknown): string {
  const err = e as { shortMessage?: string; details?: string; message?: string };
  return [err.shortMessage, err.details].filter(Boolean).join(': ') || String(err.message ?? e);
}

/**
 * Hardhat's EDR in this process, as a LedgerEngine: Berlin rules, gas price 0, automine (one block
 * per transaction), the authorities' keys derived from the seed as on the embedded chain.
 */
export async function createEdrEngine(
  options: { authorities?: number; seed?: string; blockGasLimit?: bigint } = {},
): Promise<RpcEngine> {
  const count = options.authorities ?? 3;
  const keys = Array.from({ length: count }, (_, i) => authorityKey(options.seed ?? 'gridloop', i));
  const { createHardhatNetworkProvider } = await loadBackend<{
    createHardhatNetworkProvider(config: unknown, logger: { enabled: boolean }): Promise<Eip1193Provider>;
  }>('hardhat/internal/hardhat-network/provider/provider');
  const provider = await createHardhatNetworkProvider(
    {
      hardfork: HARDFORK,
      chainId: CHAIN_ID,
      networkId: CHAIN_ID,
      blockGasLimit: Number(options.blockGasLimit ?? EDR_BLOCK_GAS_LIMIT),
      minGasPrice: 0n,
      automine: true,
      intervalMining: 0,
      mempoolOrder: 'fifo',
      chains: new Map(),
      genesisAccounts: keys.map((k) => ({ privateKey: bytesToHex(k), balance: 10n ** 24n })),
      allowUnlimitedContractSize: false,
      throwOnTransactionFailures: true,
      throwOnCallFailures: true,
      allowBlocksWithSameTimestamp: true,
      enableTransientStorage: false,
      enableRip7212: false,
    },
    { enabled: false },
  );
  return RpcEngine.create({ kind: 'edr', transport: { provider }, keys, gasPrice: 0n });
}

/** A lab's own chain over JSON-RPC; its authorities' accounts must be able to pay for gas. */
export function createJsonRpcEngine(options: {
  url: string;
  keys: readonly Uint8Array[];
  gasPrice?: bigint;
}): Promise<RpcEngine> {
  return RpcEngine.create({
    kind: 'json-rpc',
    transport: { url: options.url },
    keys: options.keys,
    gasPrice: options.gasPrice,
  });
}

/**
 * The engine a run's settlement asks for (docs/scenario-format.md, `market.settlement.engine`):
 * the embedded chain, EDR in process, or a lab's node at `url`; the authorities' keys derived from
 * the seed on all three (on a lab's chain their accounts must be able to pay for gas).
 */
export async function createLedgerEngine(options: {
  kind: EngineKind;
  authorities: number;
  seed: string;
  url?: string;
}): Promise<LedgerEngine> {
  const { kind, authorities, seed } = options;
  if (kind === 'embedded') return EmbeddedEngine.create({ authorities, seed });
  if (kind === 'edr') return createEdrEngine({ authorities, seed });
  if (!options.url) throw new LedgerError("the json-rpc ledger engine needs the node's URL (rpcUrl)");
  const keys = Array.from({ length: authorities }, (_, i) => authorityKey(seed, i));
  return createJsonRpcEngine({ url: options.url, keys });
}
