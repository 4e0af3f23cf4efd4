/** Verify: after apply, re-read the facts and re-plan; the plan must now be empty (one-shot actions aside). */
import { gatherFacts } from './facts.js';
import type { FactCache } from './fact-cache.js';
import type { AnyStateModule, Change, Connection, ModuleContext } from '../../modules/contract.js';

/** The changes that still differ after apply (empty: verified). */
export async function remainingChanges(mod: AnyStateModule, args: unknown, local: unknown, conn: Connection, ctx: ModuleContext, become: boolean, cache?: FactCache): Promise<Change[]> {
  // read fresh, and kept for later tasks: the task's own resources as they now are
  const after = await gatherFacts(conn, mod.facts(args, ctx), { become, cache, refresh: true });
  // notes of the re-plan are not the task's notes
  return mod.plan(args, after, { ...ctx, note: () => {} }, local).filter((c: Change) => !c.oneShot);
}
