/**
 * A signed apt repository built on the controller for tests, without the internet: small
 * packages made with dpkg-deb, Packages and Release written here (what apt-ftparchive would
 * write), Release signed with a throwaway gpg key (InRelease), served over HTTP by this process.
 * The test hosts reach it at the bridge's address (bind 0.0.0.0 or the bridge address).
 *
 *   node dist/test/support/local-apt-repo.js DIR [--port N] [--host ADDR] [--versions 1.0,2.0]
 *
 * builds DIR (a new key each time, in DIR/key.asc; the packages in DIR/pool) and serves it until killed.
 * Suites `stable` (the first version) and `next` (all), component `main`; packages `provtest-hello` (each version given) and
 * `provtest-lib` (its dependency, installed automatically, so autoremove removes it with it).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, normalize, relative } from 'node:path';

export interface TestPackage {
  name: string;
  version: string;
  depends?: string;
}

const run = (cmd: string, args: string[], env?: NodeJS.ProcessEnv) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }).toString();

/** A .deb holding one file, /usr/share/provtest/NAME (its version), built with dpkg-deb. */
export function buildDeb(outDir: string, p: TestPackage): string {
  const root = mkdtempSync(join(tmpdir(), 'provtest-deb-'));
  try {
    mkdirSync(join(root, 'DEBIAN'));
    mkdirSync(join(root, 'usr/share/provtest'), { recursive: true });
    writeFileSync(join(root, 'usr/share/provtest', p.name), `${p.version}\n`);
    const control = [`Package: ${p.name}`, `Version: ${p.version}`, 'Architecture: all', 'Maintainer: provision tests <tests@provision.invalid>', ...(p.depends ? [`Depends: ${p.depends}`] : []), `Description: provision test package ${p.name}`, ''];
    writeFileSync(join(root, 'DEBIAN/control'), control.join('\n'));
    mkdirSync(outDir, { recursive: true });
    const deb = join(outDir, `${p.name}_${p.version}_all.deb`);
    run('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', root, deb]);
    return deb;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Packages and a Release for the .deb files under DIR/pool, signed (InRelease) with the key in
 * `gnupg` (a GNUPGHOME, made with a key by withSigningKey); the public key is DIR/key.asc.
 */
export function writeIndex(dir: string, debs: string[], suite: string, gnupg: string): void {
  const arch = run('dpkg', ['--print-architecture']).trim();
  const stanzas = debs.map((deb) => {
    const control = run('dpkg-deb', ['-f', deb]).trimEnd();
    const bytes = readFileSync(deb);
    return `${control}\nFilename: ${relative(dir, deb)}\nSize: ${bytes.length}\nSHA256: ${sha256(bytes)}\n`;
  });
  const rel = `main/binary-${arch}/Packages`;
  const dist = join(dir, 'dists', suite);
  mkdirSync(join(dist, `main/binary-${arch}`), { recursive: true });
  const packages = Buffer.from(stanzas.join('\n'));
  writeFileSync(join(dist, rel), packages);
  const release = [
    'Origin: provision-tests',
    'Label: provision-tests',
    `Suite: ${suite}`,
    `Codename: ${suite}`,
    `Date: ${new Date().toUTCString()}`,
    `Architectures: ${arch}`,
    'Components: main',
    'SHA256:',
    ` ${sha256(packages)} ${packages.length} ${rel}`,
    '',
  ].join('\n');
  writeFileSync(join(dist, 'Release'), release);
  rmSync(join(dist, 'InRelease'), { force: true });
  run('gpg', ['--batch', '--yes', '--clearsign', '-o', join(dist, 'InRelease'), join(dist, 'Release')], { GNUPGHOME: gnupg });
}

/**
 * A throwaway signing key in a temporary GNUPGHOME for `sign`, its public part written to
 * DIR/key.asc. gpg starts a gpg-agent for the home: it is stopped (gpgconf --kill all) and the
 * home removed afterwards, so that nothing of it keeps running after the test.
 */
export function withSigningKey<T>(dir: string, sign: (gnupg: string) => T): T {
  // short: the agent's socket path must fit in a sockaddr_un
  const gnupg = mkdtempSync(join(tmpdir(), 'provgpg-'));
  chmodSync(gnupg, 0o700);
  const env = { GNUPGHOME: gnupg };
  try {
    run('gpg', ['--batch', '--quiet', '--passphrase', '', '--quick-gen-key', 'provision tests <tests@provision.invalid>', 'ed25519', 'sign', 'never'], env);
    writeFileSync(join(dir, 'key.asc'), run('gpg', ['--batch', '--armor', '--export'], env));
    return sign(gnupg);
  } finally {
    try {
      run('gpgconf', ['--kill', 'all'], env);
    } finally {
      rmSync(gnupg, { recursive: true, force: true });
    }
  }
}

/**
 * Build the repository: provtest-lib 1.0 and provtest-hello at each version (depending on
 * provtest-lib), and the `extra` packages in both suites. Suite `stable` has the first version, suite `next` all of them: a host that adds
 * `next` sees the repository "gain" the newer versions.
 */
export function buildRepo(dir: string, versions: string[], extra: TestPackage[] = []): { key: string; debs: string[] } {
  const pool = join(dir, 'pool');
  const lib = buildDeb(pool, { name: 'provtest-lib', version: '1.0' });
  const hello = versions.map((v) => buildDeb(pool, { name: 'provtest-hello', version: v, depends: 'provtest-lib' }));
  const more = extra.map((p) => buildDeb(pool, p));
  withSigningKey(dir, (gnupg) => {
    writeIndex(dir, [lib, hello[0], ...more], 'stable', gnupg);
    writeIndex(dir, [lib, ...hello, ...more], 'next', gnupg);
  });
  return { key: readFileSync(join(dir, 'key.asc'), 'utf8'), debs: [lib, ...hello, ...more] };
}

/** Serve DIR's files over HTTP (GET and HEAD only, nothing outside DIR, no dot files). */
export function serve(dir: string, port = 0, host = '0.0.0.0'): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]));
    const file = join(dir, path);
    if (relative(dir, file).startsWith('..') || /(^|\/)\./.test(path) || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end();
      return;
    }
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new Error('not a file');
      size = st.size;
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

// CLI: build and serve until killed
if (process.argv[1]?.endsWith('local-apt-repo.js')) {
  const argv = process.argv.slice(2);
  const opt = (name: string, dflt: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
  const dir = argv[0];
  if (!dir || dir.startsWith('--')) {
    console.error('usage: node dist/test/support/local-apt-repo.js DIR [--port N] [--host ADDR] [--versions 1.0,2.0]');
    process.exit(2);
  }
  buildRepo(dir, opt('--versions', '1.0,2.0').split(','));
  const { port } = await serve(dir, Number(opt('--port', '0')), opt('--host', '0.0.0.0'));
  console.log(`serving ${dir} on port ${port}; key: ${join(dir, 'key.asc')}`);
}
