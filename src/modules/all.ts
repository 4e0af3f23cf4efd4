/** Every module, loaded eagerly (tests and tools). The CLI uses the lazy registry in index.ts. */
import type { Module } from './contract.js';
import { apt } from './packages/apt.js';
import { packageModule } from './packages/package.js';
import { deb822Repository } from './packages/deb822_repository.js';
import { aptRepository } from './packages/apt_repository.js';
import { assertModule } from './checks/assert.js';
import { httpCheck } from './checks/http_check.js';
import { waitFor } from './checks/wait_for.js';
import { command, shell } from './commands/command.js';
import { copy } from './files/copy.js';
import { file } from './files/file.js';
import { mysqlDb } from './mysql/mysql_db.js';
import { mysqlReplication } from './mysql/mysql_replication.js';
import { mysqlUser } from './mysql/mysql_user.js';
import { service } from './services/service.js';
import { template } from './files/template.js';
import { getUrl } from './fetch/get_url.js';
import { git } from './fetch/git.js';
import { haproxyBackendServer } from './haproxy/haproxy_backend_server.js';
import { group } from './users/group.js';
import { user } from './users/user.js';
import { lineinfile } from './files/lineinfile.js';
import { blockinfile } from './files/blockinfile.js';
import { replace } from './files/replace.js';
import { stat } from './probes/stat.js';
import { authorizedKey } from './ssh/authorized_key.js';
import { cron } from './system/cron.js';
import { sysctl } from './system/sysctl.js';
import { systemd, systemdService } from './services/systemd.js';
import { hostname } from './system/hostname.js';
import { timezone } from './system/timezone.js';
import { reboot } from './link/reboot.js';
import { waitForConnection } from './link/wait_for_connection.js';
import { unarchive } from './files/unarchive.js';

export function builtinModules(): Map<string, Module> {
  const list: Module[] = [apt, file, copy, template, service, user, group, command, shell, waitFor, assertModule, httpCheck, mysqlDb, mysqlUser, mysqlReplication, haproxyBackendServer, lineinfile, blockinfile, replace, getUrl, git, stat, authorizedKey, cron, sysctl, systemd, systemdService, hostname, timezone, reboot, waitForConnection, unarchive, deb822Repository, aptRepository, packageModule];
  return new Map(list.map((m) => [m.name, m]));
}
