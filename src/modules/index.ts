/** The module registry. */
import type { Module } from '../core/types.js';
import { apt } from './apt.js';
import { assertModule, httpCheck, waitFor } from './checks.js';
import { command, shell } from './command.js';
import { copy } from './copy.js';
import { file } from './file.js';
import { mysqlDb } from './mysql_db.js';
import { mysqlReplication } from './mysql_replication.js';
import { mysqlUser } from './mysql_user.js';
import { service } from './service.js';
import { template } from './template.js';
import { group, user } from './user.js';

export function builtinModules(): Map<string, Module> {
  const list: Module[] = [apt, file, copy, template, service, user, group, command, shell, waitFor, assertModule, httpCheck, mysqlDb, mysqlUser, mysqlReplication];
  return new Map(list.map((m) => [m.name, m]));
}
