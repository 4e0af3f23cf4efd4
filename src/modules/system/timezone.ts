/**
 * timezone: the system time zone, Debian's way, as tzdata sets it: /etc/timezone holds the
 * name and /etc/localtime links to its file under /usr/share/zoneinfo. (Not timedatectl: it
 * needs systemd-timedated, and leaves /etc/timezone behind.)
 */
import { z } from 'zod';
import { sq } from '../../engine/shell.js';
import { fact, TaskError, type Change, type Effect, type StateModule } from '../contract.js';
import { contentFootprint } from '../files/content.js';
import { fileFact, type FileFact } from '../files/facts.js';
import { pathBecomes, unknownTree } from '../files/effects.js';
import { planText, predictText, textFileFacts, type TextFileFacts } from './text-file.js';

const ZONEINFO = '/usr/share/zoneinfo';
const TIMEZONE = '/etc/timezone';
const LOCALTIME = '/etc/localtime';

const schema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/, 'a time zone name such as Europe/Berlin or UTC')
      .refine((n) => !n.split('/').some((p) => p === '..' || p === '.'), { message: 'a time zone name such as Europe/Berlin' }),
  })
  .strict();

type Args = z.infer<typeof schema>;
type Facts = TextFileFacts & { localtime: FileFact; zone: FileFact };

export const timezone: StateModule<Args, Facts> = {
  name: 'timezone',
  type: 'state',
  schema,
  facts: (args, ctx) => ({
    ...textFileFacts(TIMEZONE, ctx),
    localtime: fact(fileFact, { path: LOCALTIME }),
    zone: fact(fileFact, { path: `${ZONEINFO}/${args.name}` }),
  }),
  plan(args, facts, ctx) {
    const zoneFile = `${ZONEINFO}/${args.name}`;
    if (facts.zone.type !== 'file' && facts.zone.type !== 'link') throw new TaskError(`unknown time zone '${args.name}': ${zoneFile} does not exist (is tzdata installed?)`);
    const changes: Change[] = [];
    const lt = facts.localtime;
    if (lt.type === 'directory') throw new TaskError(`${LOCALTIME} is a directory`);
    if (lt.type !== 'link' || lt.target !== zoneFile) {
      changes.push({
        action: 'link',
        target: LOCALTIME,
        summary: `link ${LOCALTIME} -> ${zoneFile}${lt.type === 'link' ? ` (was -> ${lt.target})` : ''}`,
        commands: [{ cmd: `ln -sfn ${sq(zoneFile)} ${LOCALTIME}` }],
      });
    }
    changes.push(...planText({ dest: TIMEZONE }, `${args.name}\n`, facts.file, ctx));
    return changes;
  },
  predict(args, facts, changes) {
    const effects: Effect[] = [];
    if (changes.some((c) => c.action === 'link')) {
      const target = `${ZONEINFO}/${args.name}`;
      effects.push(
        pathBecomes([LOCALTIME], (before) => ({
          type: 'link',
          parentExists: true,
          target,
          mode: '0777',
          owner: before.type === 'link' ? before.owner : facts.who.user,
          group: before.type === 'link' ? before.group : facts.who.group,
        })),
      );
    }
    if (changes.some((c) => c.target === TIMEZONE)) effects.push(...predictText({ dest: TIMEZONE }, `${args.name}\n`, facts));
    return effects;
  },
  footprint: () => [...contentFootprint(TIMEZONE), unknownTree([LOCALTIME], `${LOCALTIME} is linked by a task whose outcome is unknown in check mode`)],
};
