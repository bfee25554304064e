/**
 * The events a late joiner is welcomed with (`Welcome.recentEvents`): the latest events of any kind,
 * plus the latest important ones (scenario, attack, alarm, island, trip) kept apart, so a flapping
 * link's hundreds of notices cannot push what a class came to see out of the backlog.
 */
import type { LiveEvent } from './api.ts';

/**
 * Important event kinds: the twin's (`attack-start`, `alarm`, `scenario-verdict`, `generator-trip`,
 * `ufls`, …) and operators' commands on them (`command:attack`, `command:island`, …). Link and
 * loop notices are not: they are the flood this protects against.
 */
export const IMPORTANT_KIND =
  /^(?:command:)?(?:scenario|attack|alarm|island|emergency-stop|ufls|detector-failed)|trip/;

export function isImportant(event: Pick<LiveEvent, 'kind'>): boolean {
  return IMPORTANT_KIND.test(event.kind);
}

export interface EventBacklogLimits {
  /** Latest events of any kind. @default 200 */
  recent?: number;
  /** Latest important events, kept however many others follow. @default 200 */
  important?: number;
}

export class EventBacklog {
  private readonly recentLimit: number;
  private readonly importantLimit: number;
  private readonly recent: LiveEvent[] = [];
  private readonly important: LiveEvent[] = [];

  constructor(limits: EventBacklogLimits = {}) {
    this.recentLimit = limits.recent ?? 200;
    this.importantLimit = limits.important ?? 200;
  }

  add(event: LiveEvent): void {
    this.recent.push(event);
    if (this.recent.length > this.recentLimit) this.recent.shift();
    if (isImportant(event)) {
      this.important.push(event);
      if (this.important.length > this.importantLimit) this.important.shift();
    }
  }

  /** Both lists merged, oldest first, each event once (in the order it was published). */
  events(): LiveEvent[] {
    const recent = new Set(this.recent);
    const older = this.important.filter((e) => !recent.has(e));
    // Important events older than the recent window all come before it.
    return [...older, ...this.recent];
  }
}
