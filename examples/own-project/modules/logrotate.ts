// logrotate: the rotation of one set of logs, /etc/logrotate.d/NAME, written whole from the
// arguments with the built-in content stages: --check predicts the file exactly, --diff shows it.
import type { Change, Effect, ModuleContext, StateModule } from 'provision';

interface Args {
  name: string;
  paths: string[];
  frequency: 'daily' | 'weekly' | 'monthly';
  rotate: number;
  compress: boolean;
}

// the toolkit's parts this module uses (zod and the files stages come from provision at run time)
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Toolkit = { z: any; files: { contentStages: any } };

export default ({ z, files }: Toolkit): StateModule<Args, Record<string, unknown>> => {
  const schema = z
    .object({
      name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a file name in /etc/logrotate.d: letters, digits, _ . -'),
      paths: z.array(z.string().regex(/^\/\S+$/, 'an absolute path without spaces')).min(1),
      frequency: z.enum(['daily', 'weekly', 'monthly']).default('weekly'),
      rotate: z.number().int().min(0).max(1000).default(4),
      compress: z.boolean().default(true),
    })
    .strict();
  const dest = (a: Args) => ({ dest: `/etc/logrotate.d/${a.name}`, mode: '0644' });
  const content = (a: Args) =>
    Buffer.from(
      [`${a.paths.join(' ')} {`, `    ${a.frequency}`, `    rotate ${a.rotate}`, ...(a.compress ? ['    compress'] : []), '    missingok', '    notifempty', '}', ''].join('\n'),
    );
  return {
    name: 'logrotate',
    type: 'state',
    schema,
    facts: (a: Args, ctx: ModuleContext) => files.contentStages.facts(dest(a), ctx),
    plan: (a: Args, f, ctx: ModuleContext): Change[] => files.contentStages.plan(dest(a), f, ctx, content(a)),
    // exact: the file's content, mode and owner as the commands leave them (or unknown, from the stages)
    predict: (a: Args, f, changes: Change[], ctx: ModuleContext): Effect[] => files.contentStages.predict(dest(a), f, changes, ctx, content(a)),
    footprint: (a: Args): Effect[] => files.contentStages.footprint(dest(a)),
  };
};
