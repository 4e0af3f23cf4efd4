/**
 * The Docker image behind the Vagrantfile's `docker` provider, for machines without
 * virtualization (no KVM: no VirtualBox, no libvirt):
 *
 *   provision testbed image --docker     start dockerd if needed, build or reuse the image
 *
 * The image is the test hosts' own Debian 12 base rootfs (debootstrap, cached; index.ts), plus
 * what a Vagrant box has: a `vagrant` user with passwordless sudo and Vagrant's insecure public
 * key (`vagrant up` replaces it with a generated key per machine), and SSH host keys generated
 * at first boot (each machine its own). It is imported locally (`docker import`, no registry),
 * boots systemd as PID 1, and is rebuilt only when the base rootfs or this file's recipe changes
 * (label provision.source).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { childEnv, ensureBaseRootfs, findCommand, must, run, secs, TestbedError } from './index.js';

export const DOCKER_IMAGE = 'provision/bookworm-vagrant:latest';
/** Bump when the recipe below changes: an image built by another recipe is rebuilt. */
const RECIPE_VERSION = '2';
const DOCKERD_LOG = '/var/log/provision-dockerd.log';
const DOCKERD_START_TIMEOUT_MS = 60_000;

/** Vagrant's well-known insecure key (keys/vagrant.pub of every Vagrant release); replaced at the first `vagrant up`. */
const VAGRANT_INSECURE_PUBKEY =
  'ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAQEA6NF8iallvQVp22WDkTkyrtvp9eWW6A8YVr+kz4TjGYe7gHzIw+niNltGEFHzD8+v1I2YJ6oXevct1YeS0o9HZyN1Q9qgCgzUFtdOKLv6IedplqoPkcmF0aYet2PkEDo3MlTBckFXPITAMzF8dJSIFo9D8HfdOV0IAdx4O7PtixWKn5y2hMNG0zQPyUecp4pzC6kivAIhyfHilFR61RGL+GPXQ2MWZWFYbAGjyiYJnAmCP3NOTd0jMZEnDkbUvxhMmBYSdETk1rRgm+R4LOzFUGaHqHDLKLX+FIPKcF96hrucXzcWyLbIbEgE98OHlnVYCzRdK8jlqm8tehUc9c9WhQ== vagrant insecure public key';

/** ssh-keygen -A once, before sshd: every container gets its own host keys. */
const HOSTKEYS_UNIT = `[Unit]
Description=Generate SSH host keys (first boot of a provision Vagrant machine)
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
Before=ssh.service

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
`;

export interface DockerImageOptions {
  log?: (line: string) => void;
}

async function dockerAnswers(): Promise<boolean> {
  return (await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 15_000 })).code === 0;
}

/**
 * Start dockerd in the background when no engine answers (these machines have no systemd as
 * PID 1, so `systemctl start docker` is not an option). Returns whether it was started here.
 */
export async function ensureDockerd(opts: DockerImageOptions = {}): Promise<boolean> {
  const log = opts.log ?? (() => {});
  if (!findCommand('docker') || !findCommand('dockerd')) {
    throw new TestbedError('docker and dockerd are needed for the Vagrant docker provider; install them (Debian: apt-get install -y docker.io)');
  }
  if (await dockerAnswers()) return false;
  log(`starting dockerd (log ${DOCKERD_LOG})`);
  const fd = openSync(DOCKERD_LOG, 'a');
  try {
    const child = spawn('dockerd', [], { detached: true, stdio: ['ignore', fd, fd], env: childEnv() });
    child.unref();
  } finally {
    closeSync(fd);
  }
  const t0 = Date.now();
  while (Date.now() - t0 < DOCKERD_START_TIMEOUT_MS) {
    if (await dockerAnswers()) {
      log(`dockerd answers after ${secs(t0)}`);
      return true;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const tail = (await fs.readFile(DOCKERD_LOG, 'utf8').catch(() => '')).trim().split('\n').slice(-10).join('\n');
  throw new TestbedError(`dockerd did not answer within ${DOCKERD_START_TIMEOUT_MS / 1000}s; log ${DOCKERD_LOG}:\n${tail}`);
}

/** What the image is made of: the recipe's version and the base rootfs' identity (its marker file). */
export function imageSource(baseId: string): string {
  const built = /^built=(.*)$/m.exec(baseId)?.[1] ?? 'unknown';
  const version = /^version=(.*)$/m.exec(baseId)?.[1] ?? 'unknown';
  return `recipe=${RECIPE_VERSION},base=${version},built=${built}`;
}

async function imageLabel(): Promise<string | undefined> {
  const r = await run('docker', ['image', 'inspect', '--format', '{{ index .Config.Labels "provision.source" }}', DOCKER_IMAGE]);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** Add the Vagrant box conventions to a copy of the base rootfs. */
async function customise(root: string): Promise<void> {
  const env = childEnv({ DEBIAN_FRONTEND: 'noninteractive' });
  await must('chroot', [root, 'useradd', '--create-home', '--shell', '/bin/bash', '--user-group', 'vagrant'], { env });
  await fs.writeFile(path.join(root, 'etc/sudoers.d/vagrant'), 'vagrant ALL=(ALL) NOPASSWD:ALL\n', { mode: 0o440 });
  const ssh = path.join(root, 'home/vagrant/.ssh');
  await fs.mkdir(ssh, { mode: 0o700 });
  await fs.writeFile(path.join(ssh, 'authorized_keys'), `${VAGRANT_INSECURE_PUBKEY}\n`, { mode: 0o600 });
  await must('chroot', [root, 'chown', '-R', 'vagrant:vagrant', '/home/vagrant/.ssh'], { env });
  await fs.writeFile(path.join(root, 'etc/systemd/system/provision-ssh-hostkeys.service'), HOSTKEYS_UNIT);
  await must('chroot', [root, 'systemctl', 'enable', 'provision-ssh-hostkeys.service'], { env });
  // as in Docker's own Debian images: dpkg without an fsync per file (slow on overlay2; a
  // throwaway machine loses nothing)
  await fs.writeFile(path.join(root, 'etc/dpkg/dpkg.cfg.d/docker-apt-speedup'), 'force-unsafe-io\n');
  // Docker configures eth0/eth1 itself; networkd has nothing to do there.
  await must('chroot', [root, 'systemctl', 'disable', 'systemd-networkd.service'], { env });
}

/** Pipe `tar -C dir -c .` into `docker import` with the changes that make it boot systemd. */
function importTree(dir: string, source: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['--numeric-owner', '-C', dir, '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
    // (docker import takes no STOPSIGNAL: the Vagrantfile passes --stop-signal SIGRTMIN+3)
    const changes = ['CMD ["/sbin/init"]', 'ENV container=docker', `LABEL provision.source=${source}`];
    const imp = spawn('docker', ['import', ...changes.flatMap((c) => ['--change', c]), '-', DOCKER_IMAGE], { stdio: ['pipe', 'pipe', 'pipe'], env: childEnv() });
    let err = '';
    tar.stderr.on('data', (d: Buffer) => (err += d.toString()));
    imp.stderr.on('data', (d: Buffer) => (err += d.toString()));
    imp.stdout.resume();
    imp.stdin.on('error', () => {}); // EPIPE when import fails early: its exit status says why
    tar.stdout.pipe(imp.stdin);
    let tarCode: number | null = null;
    tar.on('close', (c) => (tarCode = c));
    imp.on('error', reject);
    imp.on('close', (c) => {
      if (c === 0 && tarCode === 0) resolve();
      else reject(new TestbedError(`docker import failed (tar exit ${tarCode}, import exit ${c}): ${err.trim().split('\n').slice(-5).join('\n')}`));
    });
  });
}

/** Build the image unless one made from the current base rootfs and recipe exists. Returns its name. */
export async function ensureDockerImage(opts: DockerImageOptions = {}): Promise<string> {
  const log = opts.log ?? (() => {});
  const { baseDir, baseId } = await ensureBaseRootfs({ log }); // first: it says when root is needed
  await ensureDockerd(opts);
  const source = imageSource(baseId);
  const have = await imageLabel();
  if (have === source) {
    log(`image ${DOCKER_IMAGE} is up to date (${source})`);
    return DOCKER_IMAGE;
  }
  const t0 = Date.now();
  log(have === undefined ? `building image ${DOCKER_IMAGE} from ${baseDir}` : `rebuilding image ${DOCKER_IMAGE}: it was made from ${have}, the base is now ${source}`);
  const oldId = have === undefined ? '' : (await run('docker', ['image', 'inspect', '--format', '{{.Id}}', DOCKER_IMAGE])).stdout.trim();
  const tmp = path.join(path.dirname(baseDir), '.docker-image.tmp');
  await must('rm', ['-rf', '--one-file-system', '--', tmp]);
  try {
    await must('cp', ['-a', '--reflink=auto', baseDir, tmp]);
    await customise(tmp);
    await importTree(tmp, source);
  } finally {
    await run('rm', ['-rf', '--one-file-system', '--', tmp]);
  }
  // the previous image, now untagged (kept while a container still uses it)
  if (oldId) await run('docker', ['image', 'rm', oldId]);
  log(`image ${DOCKER_IMAGE} built in ${secs(t0)}`);
  return DOCKER_IMAGE;
}
