/**
 * Ansible's names for host facts (`ansible_distribution`, `inventory_hostname` ...), computed
 * from the facts provision reads at connect time (HostFacts, see pipeline/facts.ts). Without
 * gathered facts only the inventory names exist, so a fact name is then an undefined variable.
 */
import type { HostFacts } from '../modules/contract.js';

/** /etc/os-release ID -> Ansible's ansible_distribution (an unknown ID is capitalised). */
const DISTRIBUTION: Record<string, string> = {
  debian: 'Debian',
  ubuntu: 'Ubuntu',
  raspbian: 'Debian',
  linuxmint: 'Linux Mint',
  centos: 'CentOS',
  rhel: 'RedHat',
  fedora: 'Fedora',
  rocky: 'Rocky',
  almalinux: 'AlmaLinux',
  ol: 'OracleLinux',
  amzn: 'Amazon',
  alpine: 'Alpine',
  arch: 'Archlinux',
  'opensuse-leap': 'openSUSE Leap',
  'opensuse-tumbleweed': 'openSUSE Tumbleweed',
  sles: 'SLES',
  gentoo: 'Gentoo',
};

/** ansible_distribution -> ansible_os_family (Ansible's OS_FAMILY_MAP; others are their own family). */
const FAMILY: Record<string, string> = {
  Debian: 'Debian',
  Ubuntu: 'Debian',
  'Linux Mint': 'Debian',
  CentOS: 'RedHat',
  RedHat: 'RedHat',
  Fedora: 'RedHat',
  Rocky: 'RedHat',
  AlmaLinux: 'RedHat',
  OracleLinux: 'RedHat',
  Amazon: 'RedHat',
  Alpine: 'Alpine',
  Archlinux: 'Archlinux',
  'openSUSE Leap': 'Suse',
  'openSUSE Tumbleweed': 'Suse',
  SLES: 'Suse',
  Gentoo: 'Gentoo',
};

/** Every name this module defines (with facts gathered). */
export const ANSIBLE_FACT_NAMES = [
  'inventory_hostname',
  'inventory_hostname_short',
  'ansible_hostname',
  'ansible_fqdn',
  'ansible_distribution',
  'ansible_distribution_version',
  'ansible_distribution_release',
  'ansible_distribution_major_version',
  'ansible_os_family',
  'ansible_architecture',
  'ansible_kernel',
  'ansible_processor_vcpus',
  'ansible_memtotal_mb',
  'ansible_default_ipv4',
  'ansible_all_ipv4_addresses',
  'ansible_user_id',
  'ansible_facts',
] as const;

/** The facts without the `ansible_` prefix, as `ansible_facts` holds them. */
function factRecord(f: HostFacts): Record<string, unknown> {
  const id = f.os.id.toLowerCase();
  const distribution = DISTRIBUTION[id] ?? (id ? id.charAt(0).toUpperCase() + id.slice(1) : 'unknown');
  return {
    // Ansible's ansible_hostname is the short name (the kernel's hostname up to the first dot)
    hostname: f.hostname.split('.')[0],
    fqdn: f.fqdn,
    distribution,
    distribution_version: f.os.version,
    distribution_release: f.os.codename,
    distribution_major_version: f.os.version.split('.')[0],
    os_family: FAMILY[distribution] ?? distribution,
    architecture: f.arch,
    kernel: f.kernel,
    processor_vcpus: f.cpus,
    memtotal_mb: f.memoryMb,
    // no default route: an empty dict, as Ansible's
    default_ipv4: f.defaultInterface ? { address: f.defaultIPv4, interface: f.defaultInterface } : {},
    all_ipv4_addresses: [...f.ipv4],
    user_id: f.loginUser,
  };
}

/** The Ansible names of one host: its inventory name always, its facts when they were gathered. */
export function ansibleFacts(host: { name: string }, facts: HostFacts | undefined): Record<string, unknown> {
  const names: Record<string, unknown> = {
    inventory_hostname: host.name,
    inventory_hostname_short: host.name.split('.')[0],
  };
  if (!facts) return names;
  const record = factRecord(facts);
  for (const [k, v] of Object.entries(record)) names[`ansible_${k}`] = v;
  names.ansible_facts = record;
  return names;
}
