/**
 * command / shell: run a command, only as `creates` / `unless` allow, and say so.
 * Without creates/unless the command runs (and reports changed) on every run.
 */
import { z } from 'zod';
import { sq } from '../../engine/shell.js';
import { fact, type Effect, type StateModule } from '../contract.js';
import { unknownEverything } from '../../engine/prediction.js';
import { missingParentsMade, namesOf, normPath, removedTree, unknownTree } from '../files/effects.js';
import { exitFact, type ExitFact } from './facts.js';
import { fileFact, type FileFact } from '../files/facts.js';

const schema = z
  .object({
    cmd: z.string().min(1),
    creates: z.string().startsWith('/', 'an absolute path').optional(),
    removes: z.string().startsWith('/', 'an absolute path').optional(),
    unless: z.string().min(1).optional(),
    chdir: z.string().startsWith('/').optional(),
    /** paths (their whole subtrees) the command may change, for check mode; creates/removes count too; [] = read-only */
    writes: z.array(z.string().startsWith('/', 'an absolute path')).optional(),
  })
  .strict();
type Args = z.infer<typeof schema>;
type Facts = { creates?: FileFact; removes?: FileFact; unless?: ExitFact };

function make(name: 'command' | 'shell'): StateModule<Args, Facts> {
  return {
    name,
    type: 'state',
    schema,
    facts(a) {
      const f: Record<string, unknown> = {};
      if (a.creates) f.creates = fact(fileFact, { path: a.creates });
      if (a.removes) f.removes = fact(fileFact, { path: a.removes });
      if (a.unless) f.unless = fact(exitFact, { cmd: a.unless, chdir: a.chdir });
      return f as never;
    },
    plan(a, facts, ctx) {
      if (facts.creates && facts.creates.type !== 'absent') {
        ctx.note(`not run: ${a.creates} exists`);
        return [];
      }
      if (facts.removes && facts.removes.type === 'absent') {
        ctx.note(`not run: ${a.removes} does not exist`);
        return [];
      }
      if (facts.unless && facts.unless.rc === 0) {
        ctx.note(`not run: 'unless' command succeeded`);
        return [];
      }
      const guarded = Boolean(a.creates || a.removes || a.unless);
      // mask secrets before shortening, so that no fragment of one survives the cut
      const first = ctx.mask(a.cmd).split('\n')[0];
      const why = a.creates ? ` (${a.creates} does not exist)` : a.unless ? ` ('unless' exited ${facts.unless?.rc})` : '';
      return [
        {
          action: 'run',
          target: first.slice(0, 80),
          summary: `run: ${first.slice(0, 120)}${why}`,
          // Unguarded commands are one-shot; guarded ones must satisfy their guard afterwards.
          oneShot: !guarded,
          uncertain: `its exit status is known only when it runs`,
          commands: [{ cmd: a.chdir ? `cd ${sq(a.chdir)} || exit 1\n${a.cmd}` : a.cmd }],
        },
      ];
    },
    footprint(a) {
      const declared = [a.creates, a.removes, ...(a.writes ?? [])].filter((p): p is string => p !== undefined);
      const why = `written by the command '${a.cmd.split('\n')[0].slice(0, 60)}', whose outcome is unknown in check mode`;
      if (!declared.length) return a.writes ? [] : [unknownEverything(why)];
      return [unknownTree(declared.map(normPath), why), ...declared.map((p) => missingParentsMade(normPath(p), why))];
    },
    predict(a, facts) {
      // A command's effects are what it declares: `creates` (what is there afterwards is not
      // known), `removes`, and `writes`. A command that declares nothing may have changed anything.
      const declared = [a.creates, a.removes, ...(a.writes ?? [])].filter((p): p is string => p !== undefined);
      // `writes: []` declares a read-only command
      if (declared.length === 0 && a.writes === undefined) return [unknownEverything(`the command '${a.cmd.split('\n')[0].slice(0, 60)}' runs in an earlier task and declares no effects (creates/removes/writes)`)];
      const effects: Effect[] = [];
      const reason = `written by the command '${a.cmd.split('\n')[0].slice(0, 60)}' in an earlier task`;
      // what it creates or writes, with the missing parents of that (mkdir -p)
      if (a.creates) effects.push(unknownTree(namesOf(a.creates, facts.creates!), reason), missingParentsMade(normPath(a.creates), reason));
      if (a.removes) effects.push(removedTree(namesOf(a.removes, facts.removes!)));
      for (const w of a.writes ?? []) effects.push(unknownTree([normPath(w)], reason), missingParentsMade(normPath(w), reason));
      return effects;
    },
  };
}

export const command = make('command');
export const shell = make('shell');
