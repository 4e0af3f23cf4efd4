/**
 * What the apt repository modules (deb822_repository, apt_repository) share: files under
 * /etc/apt written or removed as a whole (files/content.ts: atomic write, --diff, predicted
 * facts), and the index update that follows a change when `update_cache` asks for it.
 */
import { sq } from '../../engine/shell.js';
import { unknownUnder } from '../../engine/prediction.js';
import { fact, type Change, type Effect, type FactRequest } from '../contract.js';
import { removedTree, namesOf } from '../files/effects.js';
import { fileFact, type FileFact } from '../files/facts.js';
import { aptCacheFact, type AptCacheFact } from './facts.js';
import { indexUpdated, updateIndexChange } from './apt.js';

export const SOURCES_DIR = '/etc/apt/sources.list.d';
export const KEYRINGS_DIR = '/etc/apt/keyrings';

/** The file's removal (none when it is absent). */
export function planRemove(path: string, f: FileFact): Change[] {
  if (f.type === 'absent') return [];
  return [{ action: 'remove', target: path, summary: `remove ${path}`, commands: [{ cmd: `rm -f -- ${sq(path)}` }] }];
}

export function predictRemove(path: string, f: FileFact): Effect[] {
  return f.type === 'absent' ? [] : [removedTree(namesOf(path, f))];
}

/** Facts of a file that is only removed or checked for existence (a key file). */
export const presence = (path: string): FactRequest<FileFact> => fact(fileFact, { path, content: false });

/** update_cache: the index age is read to predict the stamp after the update. */
export const cacheFacts = (update: boolean): { cache?: FactRequest<AptCacheFact> } => (update ? { cache: fact(aptCacheFact, {}) } : {});

/** After a source changed: apt-get update, when asked (as Ansible's apt_repository does by default). */
export function withUpdate(changes: Change[], update: boolean): Change[] {
  return update && changes.length > 0 ? [...changes, updateIndexChange('update package index (a source changed)')] : changes;
}

export function predictUpdate(changes: Change[], cache: AptCacheFact | undefined): Effect[] {
  return changes.some((c) => c.action === 'update') ? indexUpdated(cache, 'apt-get update with the changed sources') : [];
}

/** Check mode, when the task's outcome is unknown: the index may have been updated too. */
export function updateFootprint(update: boolean): Effect[] {
  return update ? [unknownUnder('apt_', 'the package index after a source task whose outcome is unknown in check mode')] : [];
}
