/**
 * Market, row "Participants": the chosen participants' trades and money (market_trade), and their
 * accounts on the ledger after each settled interval (market_account: runs that settle on the chain).
 */

import { MICRO, MONEY, type Row, WATT_HOURS } from '../defaults.ts';
import { ON_CHAIN } from './chain.ts';
import { barsPanel, perInterval, stepsPanel } from './per-interval.ts';

/** The participants chosen in the `participant` variable. */
const PARTICIPANT = { tag: 'participant', matches: '$participant' } as const;

export function trades() {
  return barsPanel(
    21,
    'Trades per participant',
    'Per order: energy matched with other participants (filled) and the unmatched rest settled with the main grid.',
    'start',
  )
    .unit(WATT_HOURS)
    .decimals(1)
    .withTarget(
      perInterval(
        'market_trade',
        [
          { field: 'filled_wh', as: 'filled' },
          { field: 'unmatched_wh', as: 'with grid' },
        ],
        ['participant', 'side'],
        [PARTICIPANT],
      ),
    );
}

export function money() {
  return barsPanel(
    22,
    'Money per participant',
    'Per order: money for the matched energy (paid by a buyer, received by a seller) and for the rest with the main grid.',
    'start',
  )
    .unit(MONEY)
    .decimals(2)
    .withTarget(
      perInterval(
        'market_trade',
        [
          { field: 'amount', times: MICRO, as: 'peer to peer' },
          { field: 'grid_amount', times: MICRO, as: 'with grid' },
        ],
        ['participant', 'side'],
        [PARTICIPANT],
      ),
    );
}

export function deliveries() {
  return barsPanel(
    23,
    'Deliveries per participant',
    'Per settled interval: the net position it cleared (sold positive) and the energy its meter signed (produced positive). Beyond the tolerance the difference costs a penalty.' +
      ON_CHAIN,
    'end',
  )
    .unit(WATT_HOURS)
    .decimals(1)
    .withTarget(
      perInterval(
        'market_account',
        [
          { field: 'cleared_wh', as: 'cleared' },
          { field: 'metered_wh', as: 'metered' },
        ],
        ['participant'],
        [PARTICIPANT],
      ),
    );
}

export function accounts() {
  return stepsPanel(
    24,
    'Balance, deposit and debt per participant',
    'Each participant’s account in the ledger’s contract storage after each settled interval: balance, the deposit still locked, and debt (a penalty larger than the deposit).' +
      ON_CHAIN,
  )
    .unit(MONEY)
    .decimals(2)
    .withTarget(
      perInterval(
        'market_account',
        [
          { field: 'balance', times: MICRO },
          { field: 'deposit', times: MICRO },
          { field: 'debt', times: MICRO },
        ],
        ['participant'],
        [PARTICIPANT],
      ),
    );
}

export function penalties() {
  return barsPanel(
    25,
    'Penalties per participant',
    'Penalty of each settled interval for delivering outside the tolerance: taken from the deposit, the rest recorded as debt.' +
      ON_CHAIN,
    'end',
  )
    .unit(MONEY)
    .decimals(2)
    .withTarget(
      perInterval('market_account', [{ field: 'penalty', times: MICRO }], ['participant'], [PARTICIPANT]),
    );
}

export function reputation() {
  return stepsPanel(
    26,
    'Reputation per participant',
    `Deliveries within the tolerance so far: the reward the ledger keeps for accurate delivery.${ON_CHAIN}`,
  )
    .unit('short')
    .decimals(0)
    .withTarget(perInterval('market_account', [{ field: 'reputation' }], ['participant'], [PARTICIPANT]));
}

export function participantsRow(): Row {
  return {
    title: 'Participants',
    id: 20,
    panels: [trades(), money(), deliveries(), accounts(), penalties(), reputation()],
  };
}
