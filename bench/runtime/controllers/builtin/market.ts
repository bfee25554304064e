/**
 * `module: market`: the P2P market on the live bench (docs/market.md, "On the live bench"), e.g.
 *
 * ```yaml
 * controllers:
 *   - module: market
 *     id: market
 *     options: { interval_s: 60, gateClosure_s: 10, prosumers: { house-24: [pv-24] } }
 * ```
 *
 * Per-DER bidding agents (market/agents.ts), clearing across the microgrids with the FIDs' ratings,
 * the FIDs scheduled to carry what cleared, meters sampled every `sample_s`, each delivered interval
 * settled on an embedded proof-of-authority chain in the controller's worker (`ledger: false` for none).
 * Options are documented in docs/bench.md ("Controllers") and checked here with the option named.
 */
import { type DerAgentOptions, derAgents, derParticipants } from '../../../../market/agents.ts';
import { LIVE_DEPOSIT, LiveMarketController } from '../../../../market/live.ts';
import { DEFAULT_MARKET_CONFIG, type MarketConfig } from '../../../../market/orders.ts';
import { LiveMarketVpp, liveVppOf } from '../../../vpp/live-market.ts';
import type { ControllerFactory } from '../spec.ts';

const KNOWN = [
  'interval_s',
  'gateClosure_s',
  'sample_s',
  'pricing',
  'retailPrice',
  'feedInPrice',
  'priceCap',
  'fids',
  'dispatch',
  'agents',
  'prosumers',
  'ledger',
  'vpp',
];
const LEDGER_KNOWN = ['authorities', 'toleranceWh', 'tolerancePermille', 'penaltyPerWh', 'seed'];

const positive = (v: unknown) => typeof v === 'number' && v > 0 && Number.isFinite(v);
const wholeAtLeast = (v: unknown, min: number) => Number.isInteger(v) && (v as number) >= min;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isIdList = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((x) => typeof x === 'string' && x !== '');

const market: ControllerFactory = (options, { id, catalog }) => {
  const fail = (path: string, why: string): never => {
    throw new TypeError(`${id}: options.${path} ${why}`);
  };
  for (const key of Object.keys(options))
    if (!KNOWN.includes(key)) throw new TypeError(`${id}: unknown option '${key}' (${KNOWN.join(', ')})`);
  const config: Partial<MarketConfig> = {};
  for (const key of ['interval_s', 'gateClosure_s'] as const)
    if (options[key] !== undefined) {
      if (!positive(options[key])) fail(key, 'must be a positive number of seconds');
      config[key] = options[key] as number;
    }
  for (const key of ['retailPrice', 'feedInPrice', 'priceCap'] as const)
    if (options[key] !== undefined) {
      if (!wholeAtLeast(options[key], 0)) fail(key, 'must be a whole number of money units per MWh');
      config[key] = options[key] as number;
    }
  if (options.pricing !== undefined) {
    if (options.pricing !== 'uniform' && options.pricing !== 'pay-as-bid')
      fail('pricing', "must be 'uniform' or 'pay-as-bid'");
    config.pricing = options.pricing as MarketConfig['pricing'];
  }
  if (options.sample_s !== undefined && !positive(options.sample_s))
    fail('sample_s', 'must be a positive number of seconds');
  const fids = options.fids ?? catalog.fids.map((f) => f.id);
  if (!isIdList(fids)) fail('fids', 'must be a list of FID ids');
  (fids as string[]).forEach((f, i) => {
    if (!catalog.fids.some((x) => x.id === f)) fail(`fids[${i}]`, `'${f}' is not a FID of the grid`);
  });
  const dispatch = options.dispatch ?? [];
  if (!isIdList(dispatch)) fail('dispatch', 'must be a list of DER ids');
  (dispatch as string[]).forEach((d, i) => {
    if (!catalog.ders.some((x) => x.id === d)) fail(`dispatch[${i}]`, `'${d}' is not a DER of the grid`);
  });
  const agents = options.agents ?? {};
  if (!isObject(agents)) fail('agents', 'must be an object (docs/market.md, "Bidding agents per DER")');
  // The VPP bidding as one participant for its members (the agents leave them out).
  const vpp =
    options.vpp === undefined
      ? undefined
      : liveVppOf(options.vpp, { id, catalog, dispatch: dispatch as string[] });
  const agentOptions: DerAgentOptions = {
    ...(agents as DerAgentOptions),
    ...(vpp ? { biddenBy: vpp.participant.biddenBy } : {}),
  };
  const participants = derParticipants(catalog, agentOptions, Number(LIVE_DEPOSIT));
  if (vpp) participants.set(vpp.participant.options.id, vpp.participant.participant(Number(LIVE_DEPOSIT)));

  // prosumers: { <prosumer>: [participant, …] } → participant → prosumer.
  const prosumers: Record<string, string> = {};
  const owners = options.prosumers ?? {};
  if (!isObject(owners)) fail('prosumers', 'must map prosumer ids to lists of participant ids');
  for (const [prosumer, list] of Object.entries(owners as Record<string, unknown>)) {
    if (!isIdList(list)) fail(`prosumers.${prosumer}`, 'must be a list of participant ids');
    (list as string[]).forEach((p, i) => {
      if (!participants.has(p))
        fail(
          `prosumers.${prosumer}[${i}]`,
          `'${p}' is not a market participant (a trading DER or load:<microgrid>)`,
        );
      if (prosumers[p]) fail(`prosumers.${prosumer}[${i}]`, `'${p}' already belongs to ${prosumers[p]}`);
      prosumers[p] = prosumer;
    });
  }

  const ledger = options.ledger ?? true;
  if (typeof ledger !== 'boolean' && !isObject(ledger))
    fail('ledger', `must be true, false or { ${LEDGER_KNOWN.join(', ')} }`);
  const chain = isObject(ledger) ? ledger : {};
  for (const key of Object.keys(chain))
    if (!LEDGER_KNOWN.includes(key)) fail(`ledger.${key}`, `is unknown (${LEDGER_KNOWN.join(', ')})`);
  const authorities = chain.authorities ?? 3;
  if (!wholeAtLeast(authorities, 3)) fail('ledger.authorities', 'must be a whole number ≥ 3');
  for (const key of ['toleranceWh', 'tolerancePermille', 'penaltyPerWh'])
    if (chain[key] !== undefined && !wholeAtLeast(chain[key], 0))
      fail(`ledger.${key}`, 'must be a whole number ≥ 0');
  const all = { ...DEFAULT_MARKET_CONFIG, ...config };
  const rules = {
    retailPrice: all.retailPrice,
    feedInPrice: all.feedInPrice,
    toleranceWh: (chain.toleranceWh as number | undefined) ?? 100,
    tolerancePermille: (chain.tolerancePermille as number | undefined) ?? 50,
    penaltyPerWh: (chain.penaltyPerWh as number | undefined) ?? 100,
  };
  const seed = typeof chain.seed === 'string' ? chain.seed : `gridloop-live/${id}`;
  const ids = [...participants.keys()];

  const agentsBidder = derAgents(agentOptions);
  try {
    const live = new LiveMarketController({
      id,
      fids: fids as string[],
      dispatch: dispatch as string[],
      participants,
      bidder: vpp
        ? Object.assign(vpp.participant.bidder(agentsBidder), { observe: agentsBidder.observe })
        : agentsBidder,
      ...(vpp
        ? {
            meteredAs: {
              [vpp.participant.options.id]: vpp.participant.options.members.map((m) => m.id),
            },
          }
        : {}),
      config,
      ...(options.sample_s === undefined ? {} : { sample_s: options.sample_s as number }),
      prosumers,
      authorities: authorities as number,
      ...(ledger === false
        ? {}
        : {
            // Loaded only when asked for: the chain's packages take a moment to import.
            ledger: async () => {
              const { LiveLedger } = await import('../../../../market/live-ledger.ts');
              return LiveLedger.start(ids, rules, authorities as number, seed);
            },
          }),
    });
    return vpp ? new LiveMarketVpp(live, vpp) : live;
  } catch (err) {
    throw new TypeError(`${id}: ${(err as Error).message}`);
  }
};
export default market;
