// The hardhat node the JSON-RPC ledger adapter is tested against (test/ledger-engines.test.ts):
// Berlin rules as on the embedded chain, gas price 0 (the authorities' accounts need no funds),
// automine. GRIDLOOP_LEDGER_GAS_LIMIT sets the block gas limit (a low one exercises split settlement).
module.exports = {
  networks: {
    hardhat: {
      hardfork: 'berlin',
      chainId: 31337,
      minGasPrice: 0,
      gasPrice: 0,
      blockGasLimit: Number(process.env.GRIDLOOP_LEDGER_GAS_LIMIT ?? 30_000_000),
      allowBlocksWithSameTimestamp: true,
      mining: { auto: true },
    },
  },
};
