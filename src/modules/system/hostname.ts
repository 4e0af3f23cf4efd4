/**
 * hostname: the host's name, now and after a reboot. use: debian (the default on Debian, as
 * Ansible's) writes /etc/hostname and runs `hostname`; use: systemd runs `hostnamectl
 * set-hostname`, which does both through systemd-hostnamed.
 */
import { z } from 'zod';
import { sq } from '../../engine/shell.js';
import { setsTo, unknownUnder } from '../../engine/prediction.js';
import { fact, type Change, type Effect, type StateModule } from '../contract.js';
import { contentFootprint, sha256, unifiedDiff } from '../files/content.js';
import { pathBecomes } from '../files/effects.js';
import { kernelHostnameFact } from './hostname-facts.js';
import { planText, predictText, textFileFacts, textOf, type TextFileFacts } from './text-file.js';

const ETC_HOSTNAME = '/etc/hostname';
const LABEL = '[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?';

const schema = z
  .object({
    name: z
      .string()
      .max(64, 'at most 64 characters (the kernel limit)')
      .regex(new RegExp(`^${LABEL}(\\.${LABEL})*$`), 'a host name: letters, digits and hyphens, labels separated by dots'),
    use: z.enum(['debian', 'systemd']).default('debian'),
  })
  .strict()
  // hostnamed keeps a name with capitals only as the "pretty" name, and lowercases the static one
  .refine((a) => a.use !== 'systemd' || a.name === a.name.toLowerCase(), { message: 'use: systemd needs a lowercase name (hostnamectl would keep capitals only as the pretty name)' });

type Args = z.infer<typeof schema>;
type Facts = TextFileFacts & { kernel: string };

export const hostname: StateModule<Args, Facts> = {
  name: 'hostname',
  type: 'state',
  schema,
  facts: (_args, ctx) => ({ ...textFileFacts(ETC_HOSTNAME, ctx), kernel: fact(kernelHostnameFact, {}) }),
  plan(args, facts, ctx) {
    const want = `${args.name}\n`;
    const fileDiffers = textOf(facts.file, ETC_HOSTNAME, ctx) !== want;
    const kernelDiffers = facts.kernel !== args.name;
    if (args.use === 'systemd') {
      if (!fileDiffers && !kernelDiffers) return [];
      const before = facts.file.type === 'file' ? Buffer.from(facts.file.content ?? '', 'base64') : undefined;
      return [
        {
          action: 'set-hostname',
          target: args.name,
          summary: `hostname ${facts.kernel} -> ${args.name} (hostnamectl)`,
          ...(fileDiffers ? { diff: unifiedDiff(ETC_HOSTNAME, before, Buffer.from(want), ctx.mask) } : {}),
          commands: [{ cmd: `hostnamectl set-hostname ${sq(args.name)}` }],
        },
      ];
    }
    const changes: Change[] = fileDiffers ? planText({ dest: ETC_HOSTNAME }, want, facts.file, ctx) : [];
    if (kernelDiffers) changes.push({ action: 'set-hostname', target: args.name, summary: `hostname ${facts.kernel} -> ${args.name}`, commands: [{ cmd: `hostname ${sq(args.name)}` }] });
    return changes;
  },
  predict(args, facts, changes, ctx) {
    const want = `${args.name}\n`;
    const effects: Effect[] = [setsTo('kernel-hostname:', args.name)];
    if (textOf(facts.file, ETC_HOSTNAME, ctx) === want || changes.length === 0) return effects;
    if (args.use === 'debian') return [...effects, ...predictText({ dest: ETC_HOSTNAME }, want, facts)];
    // hostnamed writes a new file (mode 0644, as root)
    const content = Buffer.from(want);
    return [
      ...effects,
      pathBecomes([ETC_HOSTNAME], () => ({ type: 'file', parentExists: true, mode: '0644', owner: 'root', group: 'root', size: content.length, sha256: sha256(content), content: content.toString('base64') }), true),
    ];
  },
  footprint: () => [...contentFootprint(ETC_HOSTNAME), unknownUnder('kernel-hostname:', 'the host name is set by a task whose outcome is unknown in check mode')],
};
