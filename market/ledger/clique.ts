/**
 * Clique's seal recovered once per block. The sealer of a block is an elliptic-curve recovery from
 * its seal (@noble/curves, milliseconds each), and @ethereumjs/blockchain's Clique checks recover
 * it again in each of them — the signature, the turn (difficulty), the recently-signed rule twice,
 * the recent-signers list — and the EVM asks for it at every transaction. `sealerOf` keeps what it
 * recovered keyed by the header's hash, which covers every header field and the seal itself: a
 * block with another seal, or any other change, has another hash and is recovered afresh.
 *
 * `SealCachingClique` is the library's CliqueConsensus with those checks using `sealerOf`; the rules
 * are the library's, line for line (node_modules/@ethereumjs/blockchain/dist/esm/consensus/clique.js).
 */
import {
  type Block,
  type BlockHeader,
  cliqueEpochTransitionSigners,
  cliqueIsEpochTransition,
  cliqueSigner,
} from '@ethereumjs/block';
import { CliqueConsensus } from '@ethereumjs/blockchain';
import { RLP } from '@ethereumjs/rlp';
import { type Address, bigIntToBytes, bytesToHex } from '@ethereumjs/util';

const recovered = new Map<string, Address>();
/** Enough for every authority of a chain importing the same recent blocks. */
const KEEP = 1024;

/** The block's sealer, recovered from its seal once per distinct header (keyed by its hash). */
export function sealerOf(header: BlockHeader): Address {
  const key = bytesToHex(header.hash());
  let signer = recovered.get(key);
  if (signer === undefined) {
    signer = cliqueSigner(header);
    if (recovered.size >= KEEP) recovered.delete(recovered.keys().next().value!);
    recovered.set(key, signer);
  }
  return signer;
}

const CLIQUE_DIFF_INTURN = 2n;
const CLIQUE_DIFF_NOTURN = 1n;
const CLIQUE_BLOCK_SIGNERS_SNAPSHOT_KEY = 'CliqueBlockSignersSnapshot';

/** What the overrides use of the library's class beyond its typed interface. */
interface CliqueInternals {
  cliqueSignerLimit(blockNum: bigint): number;
  cliqueUpdateLatestBlockSigners(header?: BlockHeader): Promise<void>;
}

export class SealCachingClique extends CliqueConsensus {
  constructor() {
    super();
    // A private method of the library's class (it runs as each block joins the chain).
    (this as unknown as CliqueInternals).cliqueUpdateLatestBlockSigners = (header) =>
      this.updateLatestBlockSigners(header);
  }

  private get internals(): CliqueInternals {
    return this as unknown as CliqueInternals;
  }

  override async validateConsensus(block: Block): Promise<void> {
    if (!this.blockchain) throw new Error('blockchain not provided');
    const { header } = block;
    const signer = sealerOf(header);
    if (!this.cliqueActiveSigners(header.number).some((a) => a.equals(signer)))
      throw new Error('invalid PoA block signature (clique)');
    if (this.recentlySigned(header)) throw new Error('recently signed');
    if (cliqueIsEpochTransition(header)) {
      const checkpointSigners = cliqueEpochTransitionSigners(header);
      const activeSigners = this.cliqueActiveSigners(header.number);
      for (const [i, cSigner] of checkpointSigners.entries())
        if (activeSigners[i]?.equals(cSigner) !== true)
          throw new Error(`checkpoint signer not found in active signers list at index ${i}: ${cSigner}`);
    }
  }

  override async validateDifficulty(header: BlockHeader): Promise<void> {
    if (!this.blockchain) throw new Error('blockchain not provided');
    if (header.difficulty !== CLIQUE_DIFF_INTURN && header.difficulty !== CLIQUE_DIFF_NOTURN)
      throw new Error(
        `difficulty for clique block must be INTURN (2) or NOTURN (1), received: ${header.difficulty} ${header.errorStr()}`,
      );
    const signers = this.cliqueActiveSigners(header.number);
    if (signers.length === 0) throw new Error(`no signers available ${header.errorStr()}`);
    const signer = sealerOf(header);
    const signerIndex = signers.findIndex((a) => a.equals(signer));
    const inTurn = header.number % BigInt(signers.length) === BigInt(signerIndex);
    if (
      (inTurn && header.difficulty === CLIQUE_DIFF_INTURN) ||
      (!inTurn && header.difficulty === CLIQUE_DIFF_NOTURN)
    )
      return;
    throw new Error(`'invalid clique difficulty ${header.errorStr()}`);
  }

  /** Signed more than once within the last signer-limit blocks (the library's cliqueCheckRecentlySigned). */
  private recentlySigned(header: BlockHeader): boolean {
    if (header.isGenesis() || header.number === 1n) return false;
    const limit = this.internals.cliqueSignerLimit(header.number);
    let signers = this._cliqueLatestBlockSigners;
    signers = signers.slice(signers.length < limit ? 0 : 1);
    if (signers.length > 0 && signers[signers.length - 1][0] !== header.number - 1n) return false;
    const signer = sealerOf(header);
    signers.push([header.number, signer]);
    return signers.filter((s) => s[1].equals(signer)).length > 1;
  }

  private async updateLatestBlockSigners(header?: BlockHeader): Promise<void> {
    if (header) {
      if (header.isGenesis()) return;
      this._cliqueLatestBlockSigners.push([header.number, sealerOf(header)]);
      const length = this._cliqueLatestBlockSigners.length;
      const limit = this.internals.cliqueSignerLimit(header.number);
      if (length > limit)
        this._cliqueLatestBlockSigners = this._cliqueLatestBlockSigners.slice(length - limit, length);
    }
    const formatted = this._cliqueLatestBlockSigners.map((b) => [bigIntToBytes(b[0]), b[1].toBytes()]);
    await this.blockchain!.db.put(CLIQUE_BLOCK_SIGNERS_SNAPSHOT_KEY, RLP.encode(formatted));
  }
}
