// Supervision policy, as in Erlang/OTP and MINIX 3's reincarnation server: per component, a
// restart type, a restart intensity and a strategy for its dependents. The kernel applies it
// to domains: a domain is restarted when any of its components should be, by the most
// restart-worthy of them, and its restarts are counted against the tightest intensity.
// The supervisor that applies it is supervisor.ts; the boot options are checked in boot-options.ts.

export const RESTART_TYPES = ['permanent', 'transient', 'temporary'] as const;
export type RestartType = (typeof RESTART_TYPES)[number];
export const STRATEGIES = ['one_for_one', 'rest_for_one'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export interface Supervision {
  /**
   * permanent: always restarted; transient: restarted after a failure (every exit the
   * supervisor sees is one); temporary: never restarted.
   */
  restart: RestartType;
  /** At most `max` restarts within `withinMs`; one more escalates. */
  intensity: { max: number; withinMs: number };
  /** The first restart is immediate; then first, 2×first, … up to max milliseconds. */
  backoff: { firstMs: number; maxMs: number };
  /** one_for_one: only the failed component's domain; rest_for_one: also the domains of the components that require it, after it. */
  strategy: Strategy;
  /** When it cannot be restarted any more, the kernel halts with a report. */
  essential: boolean;
}

export const DEFAULT_SUPERVISION: Supervision = {
  restart: 'permanent',
  intensity: { max: 5, withinMs: 10_000 },
  backoff: { firstMs: 50, maxMs: 2_000 },
  strategy: 'one_for_one',
  essential: false,
};

export interface Heartbeat {
  /** How often each domain is pinged, in milliseconds (0: never). */
  periodMs: number;
  /** A domain that has not answered a ping after this long is declared hung. */
  timeoutMs: number;
}

export const DEFAULT_HEARTBEAT: Heartbeat = { periodMs: 1000, timeoutMs: 5000 };

/**
 * One component's supervision: what was given (checked by boot-options.ts), the defaults for
 * the rest; `essential` defaults to what the component's definition declares.
 */
export function supervisionFor(essential: boolean, given: Partial<Supervision> | undefined): Supervision {
  return {
    ...DEFAULT_SUPERVISION,
    essential,
    ...given,
    intensity: { ...DEFAULT_SUPERVISION.intensity, ...given?.intensity },
    backoff: { ...DEFAULT_SUPERVISION.backoff, ...given?.backoff },
  };
}

/** The supervision of a domain hosting several components: the most restart-worthy, the tightest limits. */
export function combine(list: Supervision[]): Supervision {
  const rank = (r: RestartType) => RESTART_TYPES.indexOf(r);
  return list.reduce((a, b) => ({
    restart: rank(a.restart) <= rank(b.restart) ? a.restart : b.restart,
    intensity: {
      max: Math.min(a.intensity.max, b.intensity.max),
      withinMs: Math.max(a.intensity.withinMs, b.intensity.withinMs),
    },
    backoff: { firstMs: Math.max(a.backoff.firstMs, b.backoff.firstMs), maxMs: Math.max(a.backoff.maxMs, b.backoff.maxMs) },
    strategy: a.strategy === 'rest_for_one' || b.strategy === 'rest_for_one' ? 'rest_for_one' : 'one_for_one',
    essential: a.essential || b.essential,
  }));
}

/** Keeps a domain's recent restarts and says whether, and after how long, the next may happen. */
export class RestartRecord {
  private readonly times: number[] = [];

  constructor(private readonly policy: Supervision) {}

  /** Restarts within the intensity window, as of `now`. */
  recent(now: number): number {
    while (this.times.length && now - this.times[0] > this.policy.intensity.withinMs) this.times.shift();
    return this.times.length;
  }

  /** null when the intensity is exceeded; otherwise the backoff before this restart. */
  next(now: number): number | null {
    const n = this.recent(now);
    if (n >= this.policy.intensity.max) return null;
    this.times.push(now);
    if (n === 0) return 0;
    return Math.min(this.policy.backoff.maxMs, this.policy.backoff.firstMs * 2 ** (n - 1));
  }
}
