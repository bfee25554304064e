/**
 * The recorded time-series schema: every measurement, tag and field a run records (points.lp.gz and
 * InfluxDB), written once. The recorder's `point()` only accepts what is listed here (a misspelt
 * name or a field of the wrong type is a compile error), the Grafana dashboards (dashboards/) build
 * their queries from it, and docs/influx-schema.md documents it (schema.test.ts checks the two agree).
 *
 * It lives with the recorder, which publishes it, and imports nothing, so the dashboards can read it
 * without depending on the recorder's code (or, through it, on the twin).
 *
 * Every point carries the tag `run` (added by the recorder); it is listed in every `tags` so the
 * table reads as the stored series do. Field types follow the JavaScript type at the recorder's API:
 * float ← number, integer ← bigint, boolean, string. Names and types here are stable: add, never change.
 */

export type FieldType = 'float' | 'integer' | 'boolean' | 'string';

export interface MeasurementSchema {
  readonly tags: readonly string[];
  readonly fields: Readonly<Record<string, FieldType>>;
}

/** The tag the recorder adds to every point: the run id (the run folder's name). */
export const RUN_TAG = 'run';

export const RECORDED_SCHEMA = {
  island: {
    tags: ['run', 'island'],
    fields: {
      f_hz: 'float',
      rocof_hz_s: 'float',
      energised: 'boolean',
      grid_connected: 'boolean',
      connection: 'string',
    },
  },
  bus: {
    tags: ['run', 'bus', 'island'],
    fields: { vm_pu: 'float', va_deg: 'float' },
  },
  device: {
    tags: ['run', 'device', 'microgrid'],
    fields: { p_mw: 'float', q_mvar: 'float', online: 'boolean', soc: 'float', tripped: 'boolean' },
  },
  fid: {
    tags: ['run', 'fid'],
    fields: { p_a_mw: 'float', p_b_mw: 'float', loss_mw: 'float' },
  },
  pcc: {
    tags: ['run', 'microgrid'],
    fields: { p_mw: 'float', q_mvar: 'float' },
  },
  ems: {
    tags: ['run', 'microgrid'],
    fields: { mode: 'string' },
  },
  link: {
    tags: ['run', 'device'],
    fields: { rtt_us: 'float', crc_errors: 'integer', dropped: 'integer', late: 'integer', state: 'string' },
  },
  detector: {
    tags: ['run', 'detector'],
    fields: { statistic: 'float', threshold: 'float', alarm: 'boolean' },
  },
  loop: {
    tags: ['run'],
    fields: { lateness_us: 'float', work_us: 'float', overruns: 'float' },
  },
  /** One point per VPP decision on the live bench (vpp/telemetry.ts, docs/vpp.md "Telemetry"). */
  vpp: {
    tags: ['run', 'vpp'],
    fields: {
      target_mw: 'float',
      delivered_mw: 'float',
      price_per_mwh: 'float',
      ok: 'boolean',
      reason: 'string',
      solve_ms: 'float',
      flex_pmin_mw: 'float',
      flex_pmax_mw: 'float',
      flex_ramp_mw_s: 'float',
      stored_energy_mwh: 'float',
      storage_room_mwh: 'float',
      members_online: 'float',
    },
  },
  /** One point per VPP member and decision. */
  vpp_member: {
    tags: ['run', 'vpp', 'member', 'prosumer'],
    fields: {
      setpoint_mw: 'float',
      measured_mw: 'float',
      tracking_error_mw: 'float',
      pmin_mw: 'float',
      pmax_mw: 'float',
      soc: 'float',
      opted_out: 'boolean',
      hardware: 'boolean',
    },
  },
  /** One point per operator and decision of a VPP under bi-level scheduling (vpp/bilevel.ts). */
  vpp_operator: {
    tags: ['run', 'vpp', 'operator'],
    fields: {
      markup: 'float',
      allocation_mw: 'float',
      realtime_mw: 'float',
      dr_mw: 'float',
      delivered_mw: 'float',
      planned_shortfall_mw: 'float',
      undelivered_mwh: 'float',
      penalty: 'float',
      dr_payment: 'float',
    },
  },
  event: {
    tags: ['run', 'kind', 'source'],
    fields: { message: 'string', target: 'string' },
  },
  assertion: {
    tags: ['run', 'name'],
    fields: { passed: 'boolean', value: 'float', message: 'string' },
  },
  verdict: {
    tags: ['run'],
    fields: {
      passed: 'boolean',
      status: 'string',
      assertions: 'integer',
      failures: 'integer',
      summary: 'string',
    },
  },
  recorder: {
    tags: ['run'],
    fields: {
      queue_bytes: 'float',
      max_queue_bytes: 'float',
      max_flush_ms: 'float',
      points: 'float',
      frames: 'float',
      rejected_points: 'float',
    },
  },
  sink: {
    tags: ['run', 'sink'],
    fields: {
      sent_points: 'float',
      spooled_points: 'float',
      backfilled_points: 'float',
      refused_points: 'float',
      lost_points: 'float',
      failures: 'float',
      backlog_points: 'float',
      max_backlog_points: 'float',
      spool_files: 'float',
      state: 'string',
      last_error: 'string',
    },
  },
  attack: {
    tags: ['run', 'attack', 'kind'],
    fields: { target: 'string', end_ms: 'integer' },
  },
  auth: {
    tags: ['run', 'device', 'reason'],
    fields: { rejected: 'integer' },
  },
  detection: {
    tags: ['run', 'attack', 'detector'],
    fields: {
      detected: 'boolean',
      time_to_detect_s: 'float',
      false_alarms_per_h: 'float',
      max_abs_df_hz: 'float',
      min_v_pu: 'float',
      energy_not_served_mwh: 'float',
      devices_tripped: 'integer',
    },
  },
  /**
   * The P2P market (docs/market.md): one point per microgrid per cleared interval, stamped at the
   * interval's start. `note` says why an interval was not cleared normally (ledger down).
   */
  market_interval: {
    tags: ['run', 'microgrid'],
    fields: {
      price: 'float',
      price_lo: 'float',
      price_hi: 'float',
      bought_wh: 'float',
      sold_wh: 'float',
      volume_wh: 'float',
      grid_bought_wh: 'float',
      grid_sold_wh: 'float',
      refused_orders: 'integer',
      note: 'string',
    },
  },
  /** One point per order per cleared interval (stamped at the interval's start). */
  market_trade: {
    tags: ['run', 'participant', 'microgrid', 'side'],
    fields: {
      filled_wh: 'float',
      unmatched_wh: 'float',
      price: 'float',
      amount: 'float',
      grid_amount: 'float',
      order: 'string',
    },
  },
  /**
   * One point per market FID per interval, stamped at the interval's end: the cleared exchange A→B
   * against the energy the converter carried; `constraint` names what bound it (the rating in the
   * clearing, or what kept it from delivering).
   */
  market_fid: {
    tags: ['run', 'fid'],
    fields: {
      cleared_wh: 'float',
      delivered_wh: 'float',
      error: 'float',
      binding: 'boolean',
      shortfall: 'boolean',
      constraint: 'string',
    },
  },
  /**
   * The scenario's VPP as one market participant (market.vpp): one point per interval, stamped at
   * its end: its award (sold − bought, P2P fills) against its members' measured energy.
   */
  market_vpp: {
    tags: ['run', 'vpp', 'microgrid'],
    fields: {
      award_wh: 'float',
      sold_wh: 'float',
      bought_wh: 'float',
      price: 'float',
      delivered_wh: 'float',
      error: 'float',
    },
  },
  /**
   * One point per participant per settled interval, stamped at the interval's end: its meter's
   * reading as its microgrid's authority accepted it (net energy, export positive) and the
   * commitment to it that went on the chain (the raw reading itself stays with the authority).
   */
  market_meter: {
    tags: ['run', 'participant'],
    fields: {
      interval: 'integer',
      energy_wh: 'integer',
      commitment: 'string',
    },
  },
  /**
   * An interval's order as its microgrid's book committed it on the chain (`status` admitted: its
   * position `leaf` in the book's Merkle tree), or as the book refused it (`status` refused, with
   * `reason` and `message`), stamped at the gate closure (docs/market.md, "Order commitments").
   */
  market_order: {
    tags: ['run', 'participant', 'microgrid', 'status'],
    fields: {
      interval: 'integer',
      order: 'string',
      side: 'string',
      qty_wh: 'integer',
      price: 'integer',
      t_ms: 'integer',
      leaf: 'integer',
      reason: 'string',
      message: 'string',
    },
  },
  /** One microgrid's committed order book of an interval: its Merkle root and number of orders. */
  market_book: {
    tags: ['run', 'microgrid'],
    fields: {
      interval: 'integer',
      root: 'string',
      orders: 'integer',
    },
  },
  /**
   * The ledger's chain (market/ledger/): one point per block decision per authority — accepted
   * (`outcome` accepted) or refused with the reason; a meter reading an authority's register refused
   * (`reading-refused`, `proposer` the meter); and balances read back from each authority's contract
   * storage (`balance_total`, micro-units).
   */
  chain: {
    tags: ['run', 'authority', 'outcome'],
    fields: {
      height: 'integer',
      proposer: 'string',
      reason: 'string',
      attack: 'string',
      balance_total: 'float',
    },
  },
  /**
   * Each participant's account on the ledger after each settled interval (`gridloop attack` of a
   * `security.ledger` scenario): declared and metered energy, and balance, deposit, debt, penalty and
   * reputation read back from an online authority's contract storage (money in micro-units).
   */
  market_account: {
    tags: ['run', 'participant', 'microgrid'],
    fields: {
      cleared_wh: 'float',
      metered_wh: 'float',
      balance: 'float',
      deposit: 'float',
      debt: 'float',
      penalty: 'float',
      reputation: 'float',
    },
  },
  /**
   * Written by `gridloop campaign` (bench/campaigns/influx.ts), not by a run's recorder: one point
   * per run result, `run` being the campaign run's id. Besides these, each point carries a tag
   * `p_<column>` per parameter axis and a field `<figure>.<island>` per island-bound figure: names
   * the campaign file chooses, so they cannot be listed here.
   */
  campaign_run: {
    tags: ['run', 'campaign', 'scenario', 'status'],
    fields: {
      passed: 'boolean',
      wall_s: 'float',
      'frequency-nadir': 'float',
      'frequency-peak': 'float',
      'rocof-max': 'float',
      'voltage-min': 'float',
      'voltage-max': 'float',
      'time-to-detect': 'float',
    },
  },
} as const satisfies Record<string, MeasurementSchema>;

type Schema = typeof RECORDED_SCHEMA;

export type Measurement = keyof Schema;
export type FieldOf<M extends Measurement> = keyof Schema[M]['fields'] & string;
export type TagOf<M extends Measurement> = Schema[M]['tags'][number];

/** The JavaScript type the recorder takes for a field type. */
interface JsTypeOf {
  float: number;
  integer: bigint;
  boolean: boolean;
  string: string;
}

/** Tags a caller gives for a point of `M` (the recorder adds `run`); each may be left out. */
export type PointTags<M extends Measurement> = { readonly [T in Exclude<TagOf<M>, 'run'>]?: string };

/** Fields of a point of `M`, each with its recorded type; each may be left out. */
export type PointFields<M extends Measurement> = {
  [F in FieldOf<M>]?: JsTypeOf[Schema[M]['fields'][F] & FieldType];
};

/** Takes points of the schema: `RunRecorder.point`, and the writers that feed it. */
export type PointSink = <M extends Measurement>(
  measurement: M,
  tags: PointTags<M>,
  fields: PointFields<M>,
  time_ns: bigint,
) => void;

/** Tags and fields of a measurement; undefined when the schema has no such measurement. */
export function measurementSchema(measurement: string): MeasurementSchema | undefined {
  return Object.hasOwn(RECORDED_SCHEMA, measurement)
    ? RECORDED_SCHEMA[measurement as Measurement]
    : undefined;
}
