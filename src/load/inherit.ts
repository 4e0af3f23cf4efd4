/**
 * What a task inherits from the blocks, roles and includes around it, and the one rule that
 * combines a parent's settings with a child's own (Ansible's: conditions and tags add up,
 * variables layer with the innermost winning, become / ignore_errors / no_log take the nearest
 * that is set).
 */
import type { RoleRef } from './tree.js';

export interface Inherited {
  /** conditions of the enclosing blocks, roles and includes, outermost first */
  when: (string | boolean)[];
  become?: boolean;
  tags: string[];
  vars: Record<string, unknown>;
  defaults: Record<string, unknown>;
  ignoreErrors?: boolean;
  noLog?: boolean;
  becomeUser?: string;
  environment?: Record<string, unknown>;
  checkMode?: boolean;
  anyErrorsFatal?: boolean;
  runOnce?: boolean;
  throttle?: number;
  role?: RoleRef;
}

/** A child's own settings, as written. */
export interface OwnSettings {
  when?: string | boolean | (string | boolean)[];
  become?: boolean;
  tags?: string[];
  vars?: Record<string, unknown>;
  defaults?: Record<string, unknown>;
  ignore_errors?: boolean;
  no_log?: boolean;
  become_user?: string;
  environment?: Record<string, unknown>;
  check_mode?: boolean;
  any_errors_fatal?: boolean;
  run_once?: boolean;
  throttle?: number;
  role?: RoleRef;
}

export const topLevel = (playTags: string[], play: { becomeUser?: string; environment?: Record<string, unknown>; anyErrorsFatal?: boolean } = {}): Inherited => ({
  when: [],
  tags: playTags,
  vars: {},
  defaults: {},
  ...(play.becomeUser !== undefined ? { becomeUser: play.becomeUser } : {}),
  ...(play.environment ? { environment: play.environment } : {}),
  ...(play.anyErrorsFatal ? { anyErrorsFatal: true } : {}),
});

export function inherit(parent: Inherited, own: OwnSettings): Inherited {
  const when = own.when === undefined ? [] : Array.isArray(own.when) ? own.when : [own.when];
  return {
    when: [...parent.when, ...when],
    become: own.become ?? parent.become,
    tags: [...new Set([...parent.tags, ...(own.tags ?? [])])],
    vars: { ...parent.vars, ...(own.vars ?? {}) },
    defaults: { ...parent.defaults, ...(own.defaults ?? {}) },
    ignoreErrors: own.ignore_errors ?? parent.ignoreErrors,
    noLog: own.no_log ?? parent.noLog,
    becomeUser: own.become_user ?? parent.becomeUser,
    environment: own.environment || parent.environment ? { ...parent.environment, ...own.environment } : undefined,
    checkMode: own.check_mode ?? parent.checkMode,
    anyErrorsFatal: own.any_errors_fatal ?? parent.anyErrorsFatal,
    runOnce: own.run_once ?? parent.runOnce,
    throttle: own.throttle ?? parent.throttle,
    role: own.role ?? parent.role,
  };
}

const WHOLE = /^\s*\{\{([\s\S]+?)\}\}\s*$/;

/**
 * All conditions as one (each must hold, in order: `(a) && (b)`), or undefined when there are
 * none. A condition is a bare expression or one in `{{ }}`, as `when:` reads it.
 */
export function allConditions(conds: (string | boolean)[]): string | boolean | undefined {
  const parts = conds.filter((c) => c !== true);
  if (parts.length === 0) return conds.length ? true : undefined;
  if (parts.length === 1) return parts[0];
  return parts.map((c) => (typeof c === 'boolean' ? String(c) : `(${(WHOLE.exec(c)?.[1] ?? c).trim()})`)).join(' && ');
}
