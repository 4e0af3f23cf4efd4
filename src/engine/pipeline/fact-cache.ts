/**
 * Speculative facts: a host's facts read ahead, once per play, and served to its tasks until a
 * change touches them. A converged host then costs one round trip per play.
 *
 *  - At play start the scheduler reads, in one round trip, every fact the play's tasks will ask
 *    for as far as their arguments can be rendered then (pipeline/read-ahead.ts).
 *  - A task gets a fact from here only if nothing applied on this host since it was read touches
 *    it: after a real change, the task's predicted effects (the same model check mode folds,
 *    modules' predict()) drop what they touch; a change whose effects are not modelled (a command,
 *    a failed apply) drops everything. What a task verifies after its apply is stored fresh.
 *  - Never cached: guards that read anything (`unless`), and facts that another host or time can
 *    change (`FactKind.volatile`): those are read when the task runs, as before.
 *  - A read that raced with a change (an invalidation during the round trip) is not stored.
 *
 * PROVISION_FACT_CACHE=off reads every fact when its task runs (the old behaviour);
 * PROVISION_FACT_CACHE=audit reads every fact live too, and fails the task if the cache would
 * have served a different value (the differential tester and the site e2e run with it).
 */
import { isDeepStrictEqual } from 'node:util';
import type { Effect, FactRequest } from '../../modules/contract.js';

export type FactCacheMode = 'on' | 'off' | 'audit';

interface Entry {
  value: unknown;
  /** resource keys the value answers for (its key and aliases): an effect on any of them drops it */
  keys: string[];
  /** when its read began (controller clock), for facts that carry the host's clock */
  readAt: number;
  /** how long that read took */
  readMs: number;
}

export function factCacheMode(env: NodeJS.ProcessEnv = process.env): FactCacheMode {
  const v = env.PROVISION_FACT_CACHE;
  return v === 'off' || v === 'audit' ? v : 'on';
}

/** Whether a fact may be read ahead and served later. */
export function cacheable(req: FactRequest): boolean {
  return !req.kind.readsAnything && !req.kind.volatile;
}

export class FactCache {
  private readonly entries = new Map<string, Entry>();
  private epoch = 0;
  /** cleared since the last read-ahead: the rest of the play may be read ahead again */
  voided = true;

  constructor(readonly mode: FactCacheMode = 'on') {}

  /** One entry per exact request: the kind, its parameters, and whether it is read with become. */
  static id(req: FactRequest, become: boolean): string {
    return `${become ? 'b' : 'u'} ${req.kind.kind} ${JSON.stringify(req.params)}`;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value read ahead for this request, if nothing has touched it since. */
  get(req: FactRequest, become: boolean): { value: unknown; readMs: number } | undefined {
    if (this.mode === 'off' || !cacheable(req)) return undefined;
    const e = this.entries.get(FactCache.id(req, become));
    if (!e) return undefined;
    return { value: req.kind.aged ? req.kind.aged(e.value, Date.now() - e.readAt) : e.value, readMs: e.readMs };
  }

  /** Stamp taken before a read: store() keeps the read only if nothing was invalidated meanwhile. */
  stamp(): number {
    return this.epoch;
  }

  store(req: FactRequest, become: boolean, value: unknown, stamp: number, readAt = Date.now(), readMs = 0): void {
    if (this.mode === 'off' || !cacheable(req) || stamp !== this.epoch) return;
    const keys = [req.kind.key(req.params), ...(req.kind.aliases?.(req.params, value) ?? [])];
    this.entries.set(FactCache.id(req, become), { value, keys, readAt, readMs });
  }

  /** A change was applied: drop every fact an effect touches. */
  invalidate(effects: Effect[]): void {
    this.epoch++;
    for (const [id, e] of this.entries) if (effects.some((eff) => e.keys.some((k) => eff.touches(k)))) this.entries.delete(id);
  }

  /** A change whose effects are not known was applied (or a new play starts): read everything again. */
  clear(): void {
    this.epoch++;
    this.entries.clear();
    this.voided = true;
  }

  /** Before a read-ahead: empty, and no longer void. */
  renew(): void {
    this.clear();
    this.voided = false;
  }

  /** Audit mode: the live value must be what the cache would have served (`slackMs`: how long both reads took). */
  static audit(req: FactRequest, cached: unknown, live: unknown, slackMs: number): string | undefined {
    if (req.kind.sameAs ? req.kind.sameAs(cached, live, slackMs) : isDeepStrictEqual(cached, live)) return undefined;
    const key = req.kind.key(req.params);
    return `fact cache audit: ${key} was served from the read-ahead as ${JSON.stringify(cached).slice(0, 300)}, but the host now says ${JSON.stringify(live).slice(0, 300)}`;
  }
}
