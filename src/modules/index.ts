/**
 * The module registry: module name -> loader. Nothing is imported until asked for, so a
 * playbook pays only for the modules it uses (and `--version`/`--help` for none).
 * src/modules/all.ts loads every module eagerly (tests, tools); a unit test keeps the two equal.
 */
import type { Module } from './contract.js';

type Loader = () => Promise<Module>;

const LOADERS: Record<string, Loader> = {
  apt: async () => (await import('./packages/apt.js')).apt,
  deb822_repository: async () => (await import('./packages/deb822_repository.js')).deb822Repository,
  apt_repository: async () => (await import('./packages/apt_repository.js')).aptRepository,
  file: async () => (await import('./files/file.js')).file,
  copy: async () => (await import('./files/copy.js')).copy,
  template: async () => (await import('./files/template.js')).template,
  service: async () => (await import('./services/service.js')).service,
  user: async () => (await import('./users/user.js')).user,
  group: async () => (await import('./users/group.js')).group,
  command: async () => (await import('./commands/command.js')).command,
  shell: async () => (await import('./commands/command.js')).shell,
  wait_for: async () => (await import('./checks/wait_for.js')).waitFor,
  assert: async () => (await import('./checks/assert.js')).assertModule,
  http_check: async () => (await import('./checks/http_check.js')).httpCheck,
  mysql_db: async () => (await import('./mysql/mysql_db.js')).mysqlDb,
  mysql_user: async () => (await import('./mysql/mysql_user.js')).mysqlUser,
  mysql_replication: async () => (await import('./mysql/mysql_replication.js')).mysqlReplication,
  lineinfile: async () => (await import('./files/lineinfile.js')).lineinfile,
  blockinfile: async () => (await import('./files/blockinfile.js')).blockinfile,
  replace: async () => (await import('./files/replace.js')).replace,
  get_url: async () => (await import('./fetch/get_url.js')).getUrl,
  git: async () => (await import('./fetch/git.js')).git,
  stat: async () => (await import('./probes/stat.js')).stat,
  authorized_key: async () => (await import('./ssh/authorized_key.js')).authorizedKey,
  haproxy_backend_server: async () => (await import('./haproxy/haproxy_backend_server.js')).haproxyBackendServer,
  cron: async () => (await import('./system/cron.js')).cron,
  sysctl: async () => (await import('./system/sysctl.js')).sysctl,
  systemd: async () => (await import('./services/systemd.js')).systemd,
  systemd_service: async () => (await import('./services/systemd.js')).systemdService,
  package: async () => (await import('./packages/package.js')).packageModule,
  hostname: async () => (await import('./system/hostname.js')).hostname,
  timezone: async () => (await import('./system/timezone.js')).timezone,
  reboot: async () => (await import('./link/reboot.js')).reboot,
  wait_for_connection: async () => (await import('./link/wait_for_connection.js')).waitForConnection,
  unarchive: async () => (await import('./files/unarchive.js')).unarchive,
};

/** Every module name, sorted. */
export const MODULE_NAMES: readonly string[] = Object.keys(LOADERS).sort();

export function isModuleName(name: string): boolean {
  return Object.hasOwn(LOADERS, name);
}

/** Load the named modules (names that are not modules are ignored); all of them without `names`. */
export async function loadModules(names: Iterable<string> = MODULE_NAMES): Promise<Map<string, Module>> {
  const wanted = [...new Set(names)].filter(isModuleName).sort();
  const mods = await Promise.all(wanted.map((n) => LOADERS[n]()));
  return new Map(mods.map((m) => [m.name, m]));
}
