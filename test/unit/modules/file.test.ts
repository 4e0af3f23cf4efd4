import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskError } from '../../../src/modules/contract.js';
import type { FileFact } from '../../../src/modules/files/facts.js';
import { file } from '../../../src/modules/files/file.js';
import { absentFile, assertConverges, cmds, directory, makeCtx, parse, regularFile, predictedFacts, ROOT_WHO } from './helpers.js';

const isTaskError = (re: RegExp) => (e: unknown) => e instanceof TaskError && re.test(e.message);
const link = (target: string, over: Partial<FileFact> = {}): FileFact => ({ type: 'link', parentExists: true, target, mode: '0777', owner: 'root', group: 'root', ...over });
const plan = (args: unknown, f: FileFact, ctx = makeCtx()) => file.plan(parse(file, args), { who: ROOT_WHO, file: f }, ctx);
const summary = (args: unknown, f: FileFact) => plan(args, f).map((c) => [c.action, c.summary]);

describe('file: args', () => {
  test('defaults to state file; modes are normalised', () => {
    assert.deepEqual(parse(file, { path: '/etc/x' }), { path: '/etc/x', state: 'file' });
    // a number is refused: YAML reads an unquoted 0640 as the decimal 640
    assert.throws(() => parse(file, { path: '/etc/x', mode: 0o640 }), /quoted octal mode/);
    assert.equal(parse(file, { path: '/etc/x', mode: '0o750' }).mode, '0o750');
  });

  test('rejects relative paths, bad modes, a link without src', () => {
    assert.throws(() => parse(file, { path: 'etc/x' }), /absolute path/);
    assert.throws(() => parse(file, { path: '/etc/x', mode: '0999' }), /octal mode/);
    assert.throws(() => parse(file, { path: '/etc/x', state: 'link' }), /needs 'src'/);
  });

  test('facts: one file fact without content', () => {
    const f = file.facts(parse(file, { path: '/srv/app' }), makeCtx());
    assert.equal(f.file.kind.kind, 'file');
    assert.deepEqual(f.file.params, { path: '/srv/app' });
  });
});

describe('file: directory', () => {
  test('converged', () => {
    assert.deepEqual(plan({ path: '/srv/app', state: 'directory', mode: '0750', owner: 'www-data', group: 'www-data' }, directory({ mode: '0750', owner: 'www-data', group: 'www-data' })), []);
  });

  test('create with mode, then chown', () => {
    const changes = plan({ path: '/srv/app', state: 'directory', mode: '750', owner: 'www-data' }, absentFile());
    assert.deepEqual(
      changes.map((c) => [c.action, c.target, c.summary]),
      [
        ['create', '/srv/app', 'create directory /srv/app'],
        ['chown', '/srv/app', 'owner root -> www-data'],
      ],
    );
    assert.deepEqual(cmds(changes), ['mkdir -p -- /srv/app && chmod 0750 /srv/app', 'chown www-data /srv/app']);
  });

  test('create without attributes', () => {
    assert.deepEqual(cmds(plan({ path: '/srv/my app', state: 'directory' }, absentFile(false))), [`mkdir -p -- '/srv/my app'`]);
  });

  test('attribute changes on an existing directory', () => {
    const changes = plan({ path: '/srv/app', state: 'directory', mode: '0700', owner: 'deploy', group: 'staff' }, directory());
    assert.deepEqual(
      changes.map((c) => [c.action, c.summary]),
      [
        ['chmod', 'mode 0755 -> 0700'],
        ['chown', 'owner root -> deploy'],
        ['chgrp', 'group root -> staff'],
      ],
    );
    assert.deepEqual(cmds(changes), ['chmod 0700 /srv/app', 'chown deploy /srv/app', 'chgrp staff /srv/app']);
  });

  test('error: a file is in the way', () => {
    assert.throws(() => plan({ path: '/srv/app', state: 'directory' }, regularFile()), isTaskError(/exists and is a file, not a directory/));
  });
});

describe('file: absent', () => {
  test('removes whatever is there; converged when absent', () => {
    assert.deepEqual(summary({ path: '/srv/old', state: 'absent' }, directory()), [['remove', 'remove directory /srv/old']]);
    assert.deepEqual(cmds(plan({ path: "/srv/it's", state: 'absent' }, regularFile())), [`rm -rf -- '/srv/it'\\''s'`]);
    assert.deepEqual(plan({ path: '/srv/old', state: 'absent' }, absentFile()), []);
  });
});

describe('file: link', () => {
  const args = { path: '/etc/nginx/sites-enabled/app', state: 'link', src: '/etc/nginx/sites-available/app' };

  test('converged', () => {
    assert.deepEqual(plan(args, link('/etc/nginx/sites-available/app')), []);
  });

  test('create', () => {
    const changes = plan(args, absentFile());
    assert.deepEqual(
      changes.map((c) => [c.action, c.summary]),
      [['create', 'link /etc/nginx/sites-enabled/app -> /etc/nginx/sites-available/app']],
    );
    assert.deepEqual(cmds(changes), ['ln -sfn -- /etc/nginx/sites-available/app /etc/nginx/sites-enabled/app']);
  });

  test('retarget an existing link, or replace a file', () => {
    assert.deepEqual(summary(args, link('/etc/nginx/sites-available/default')), [
      ['update', 'link /etc/nginx/sites-enabled/app -> /etc/nginx/sites-available/app (was -> /etc/nginx/sites-available/default)'],
    ]);
    assert.deepEqual(summary(args, regularFile()), [['update', 'link /etc/nginx/sites-enabled/app -> /etc/nginx/sites-available/app']]);
  });

  test('owner of a link is changed with chown -h; mode is ignored', () => {
    const a = { ...args, owner: 'www-data', group: 'www-data', mode: '0600' };
    assert.deepEqual(cmds(plan(a, link('/etc/nginx/sites-available/app'))), ['chown -h www-data /etc/nginx/sites-enabled/app', 'chgrp -h www-data /etc/nginx/sites-enabled/app']);
    assert.deepEqual(cmds(plan(a, absentFile())), [
      'ln -sfn -- /etc/nginx/sites-available/app /etc/nginx/sites-enabled/app',
      'chown -h www-data /etc/nginx/sites-enabled/app',
      'chgrp -h www-data /etc/nginx/sites-enabled/app',
    ]);
  });

  test('error: refuses to replace a directory', () => {
    assert.throws(() => plan(args, directory()), isTaskError(/is a directory; refusing to replace it with a link/));
  });
});

describe('file: file and touch', () => {
  test('state file: converged, or attribute changes only', () => {
    assert.deepEqual(plan({ path: '/etc/app.conf', mode: '0644', owner: 'root' }, regularFile()), []);
    const changes = plan({ path: '/etc/app.conf', mode: '0600', group: 'app' }, regularFile());
    assert.deepEqual(cmds(changes), ['chmod 0600 /etc/app.conf', 'chgrp app /etc/app.conf']);
  });

  test('error: state file on an absent path does not create it', () => {
    assert.throws(() => plan({ path: '/etc/app.conf' }, absentFile()), isTaskError(/\/etc\/app\.conf does not exist \(state: file only manages attributes/));
  });

  test('error: state file or touch on a directory', () => {
    assert.throws(() => plan({ path: '/etc/app.conf', state: 'file' }, directory()), isTaskError(/is a directory, not a regular file/));
    assert.throws(() => plan({ path: '/etc/app.conf', state: 'touch' }, link('/x')), isTaskError(/is a link, not a regular file/));
  });

  test('touch creates an empty file with mode and owner', () => {
    const changes = plan({ path: '/var/log/app.log', state: 'touch', mode: '0640', owner: 'app' }, absentFile());
    assert.deepEqual(
      changes.map((c) => [c.action, c.summary]),
      [
        ['create', 'create empty file /var/log/app.log'],
        ['chown', 'owner root -> app'],
      ],
    );
    assert.deepEqual(cmds(changes), ['touch -- /var/log/app.log && chmod 0640 /var/log/app.log', 'chown app /var/log/app.log']);
  });

  test('touch on an existing file does not touch it again', () => {
    assert.deepEqual(plan({ path: '/var/log/app.log', state: 'touch' }, regularFile()), []);
  });

  test('touch: missing parent is an error; a parent a pending install may create is unknown', () => {
    assert.throws(() => plan({ path: '/srv/new/app.log', state: 'touch' }, absentFile(false)), isTaskError(/parent directory of \/srv\/new\/app\.log does not exist/));
    assert.throws(() => plan({ path: '/etc/new/app.log', state: 'touch' }, { ...absentFile(false), parentByInstall: true }, makeCtx({ check: true })), (e: Error) => e.name === 'Unknown');
  });
});

describe('file: predict and convergence', () => {
  test('predict a new directory', () => {
    const a = parse(file, { path: '/srv/app', state: 'directory', owner: 'app' });
    assert.deepEqual(predictedFacts(file, a, { who: ROOT_WHO, file: absentFile() }).file, { type: 'directory', parentExists: true, mode: '0755', owner: 'app', group: 'root' });
  });

  test('predict absent keeps what is known of the parent', () => {
    const a = parse(file, { path: '/srv/app', state: 'absent' });
    assert.deepEqual(predictedFacts(file, a, { who: ROOT_WHO, file: directory() }).file, { type: 'absent', parentExists: true });
  });

  const cases: [string, unknown, FileFact, boolean?][] = [
    ['directory create', { path: '/srv/app', state: 'directory', mode: '0750', owner: 'www-data', group: 'adm' }, absentFile()],
    ['directory attrs', { path: '/srv/app', state: 'directory', mode: '0700', owner: 'deploy' }, directory()],
    ['absent', { path: '/srv/app', state: 'absent' }, directory()],
    ['link create', { path: '/a', state: 'link', src: '/b', owner: 'nobody' }, absentFile()],
    ['link retarget', { path: '/a', state: 'link', src: '/b' }, link('/c')],
    ['link over file', { path: '/a', state: 'link', src: '/b' }, regularFile()],
    ['touch', { path: '/a', state: 'touch', mode: '0640', owner: 'app', group: 'app' }, absentFile()],
    ['file attrs', { path: '/a', mode: '0600', owner: 'app', group: 'app' }, regularFile()],
    ['converged', { path: '/a', mode: '0644' }, regularFile()],
  ];
  for (const [name, args, f, predicted] of cases) {
    test(`convergence: ${name}`, () => assertConverges(file, parse(file, args), { who: ROOT_WHO, file: f }, makeCtx({ check: !!predicted })));
  }
});

describe('file: a non-root user without become (check mode)', () => {
  const deploy = { user: 'deploy', group: 'deploy', umask: '0002' };
  const uncertain = (args: unknown, f: FileFact) => file.plan(parse(file, args), { who: deploy, file: f }, makeCtx({ become: false, user: 'deploy' })).map((c) => Boolean(c.uncertain));
  test('may not be allowed where it cannot write the directory, or chown: uncertain, not a confident change', () => {
    assert.deepEqual(uncertain({ path: '/opt/dt', state: 'directory' }, { ...absentFile(), dirWritable: false }), [true]);
    assert.deepEqual(uncertain({ path: '/srv/f', state: 'touch' }, { ...absentFile(), dirWritable: false }), [true]);
    assert.deepEqual(uncertain({ path: '/home/deploy/x', state: 'directory', owner: 'root' }, { ...absentFile(), dirWritable: true }), [true, true]);
    assert.deepEqual(uncertain({ path: '/etc/passwd', mode: '0600' }, regularFile()), [true]);
  });
  test('its own home, and directories an earlier task of its own creates: certain', () => {
    assert.deepEqual(uncertain({ path: '/home/deploy/x', state: 'directory' }, { ...absentFile(), dirWritable: true }), [false]);
    assert.deepEqual(uncertain({ path: '/home/deploy/x/y', state: 'touch' }, { ...absentFile(), dirWritable: false, dirOwner: 'deploy' }), [false]);
    assert.deepEqual(uncertain({ path: '/home/deploy/f', mode: '0600' }, regularFile({ owner: 'deploy', group: 'deploy' })), [false]);
  });
});
