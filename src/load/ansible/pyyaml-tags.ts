/**
 * The plain-scalar types of PyYAML's SafeLoader, which Ansible reads every inventory and vars file
 * with: its YAML 1.1 resolvers (regular expressions copied from PyYAML's resolver.py) and its
 * constructors. The `yaml` package's own 1.1 schema is looser (`e1` or `1e3` are floats, `y` is
 * true, `0o17` is 15), so a key `e1` would become "NaN"; these tags replace it.
 * A timestamp becomes the text Ansible's templates render for it (Python's str() of the date or
 * datetime); a value Python cannot build (2024-02-30, 0b_) is an error, as it is in Ansible.
 */
import type { ScalarTag, Tags } from 'yaml';

const TRUE = /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const bool: ScalarTag = {
  identify: (v) => typeof v === 'boolean',
  default: true,
  tag: 'tag:yaml.org,2002:bool',
  test: /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
  resolve: (s) => TRUE.test(s),
};

const nullTag: ScalarTag = {
  identify: (v) => v === null || v === undefined,
  default: true,
  tag: 'tag:yaml.org,2002:null',
  test: /^(?:~|null|Null|NULL)?$/,
  resolve: () => null,
};

/** A JS number only when it holds the integer exactly: a larger one would be a different value. */
function exactInt(n: bigint, text: string): number {
  if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new Error(`the integer ${text} is too large for provision to hold exactly (more than 2^53): quote it to keep it as a string`);
  }
  return Number(n);
}

const int: ScalarTag = {
  identify: (v) => typeof v === 'number' && Number.isInteger(v),
  default: true,
  tag: 'tag:yaml.org,2002:int',
  test: /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
  resolve(text) {
    let s = text.replace(/_/g, '');
    const sign = s.startsWith('-') ? -1n : 1n;
    if (/^[-+]/.test(s)) s = s.slice(1);
    let n: bigint;
    const bad = () => new Error(`invalid integer '${text}'`);
    if (s === '0') n = 0n;
    else if (s.startsWith('0b')) {
      if (!/^[01]+$/.test(s.slice(2))) throw bad();
      n = BigInt(s);
    } else if (s.startsWith('0x')) {
      if (!/^[0-9a-fA-F]+$/.test(s.slice(2))) throw bad();
      n = BigInt(s);
    } else if (s.startsWith('0')) n = BigInt(`0o${s.slice(1)}`);
    else if (s.includes(':')) n = s.split(':').reduce((acc, part) => acc * 60n + BigInt(part), 0n);
    else n = BigInt(s);
    return exactInt(sign * n, text);
  },
};

const float: ScalarTag = {
  identify: (v) => typeof v === 'number',
  default: true,
  tag: 'tag:yaml.org,2002:float',
  test: /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  resolve(text) {
    let s = text.replace(/_/g, '').toLowerCase();
    const sign = s.startsWith('-') ? -1 : 1;
    if (/^[-+]/.test(s)) s = s.slice(1);
    if (s === '.inf') return sign * Infinity;
    if (s === '.nan') return NaN;
    let n: number;
    if (s.includes(':')) {
      // summed from the last part up, as PyYAML does (the same rounding)
      n = 0;
      let base = 1;
      for (const part of s.split(':').reverse()) {
        n += Number(part) * base;
        base *= 60;
      }
    } else n = s === '.' || s === '' ? NaN : Number(s);
    if (Number.isNaN(n)) throw new Error(`invalid float '${text}'`);
    return sign * n;
  },
};

const TIMESTAMP =
  /^([0-9]{4})-([0-9][0-9]?)-([0-9][0-9]?)(?:(?:[Tt]|[ \t]+)([0-9][0-9]?):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9][0-9]?)(?::([0-9]{2}))?))?)?$/;
const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Python's str() of the date or datetime PyYAML builds from a YAML 1.1 timestamp. */
export function pythonTimestamp(text: string): string {
  const m = TIMESTAMP.exec(text);
  if (!m) throw new Error(`invalid timestamp '${text}'`);
  const [year, month, day] = [m[1], m[2], m[3]].map(Number);
  const days = new Date(Date.UTC(2000, month, 0)).getUTCDate(); // days in `month` of a leap year
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > days || (month === 2 && day === 29 && !leap)) {
    throw new Error(`invalid date '${text}' (day out of range for its month, or no such month)`);
  }
  const date = `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
  if (m[4] === undefined) return date;
  const [hour, minute, second] = [m[4], m[5], m[6]].map(Number);
  if (hour > 23 || minute > 59 || second > 59) throw new Error(`invalid time in '${text}'`);
  let out = `${date} ${pad(hour)}:${pad(minute)}:${pad(second)}`;
  const micro = Number((m[7] ?? '').slice(0, 6).padEnd(6, '0'));
  if (micro !== 0) out += `.${pad(micro, 6)}`;
  if (m[8] === 'Z') out += '+00:00';
  else if (m[8] !== undefined) {
    const h = Number(m[10]);
    const mins = Number(m[11] ?? 0);
    if (h * 60 + mins >= 24 * 60) throw new Error(`time zone offset out of range in '${text}'`);
    out += `${h === 0 && mins === 0 ? '+' : m[9]}${pad(h)}:${pad(mins)}`;
  }
  return out;
}

const timestamp: ScalarTag = {
  identify: () => false,
  default: true,
  tag: 'tag:yaml.org,2002:timestamp',
  test: /^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9]{2})?))?)$/,
  resolve: (s) => pythonTimestamp(s),
};

/** A plain `=` is YAML 1.1's value key, which PyYAML cannot build: Ansible fails on it. */
const valueKey: ScalarTag = {
  identify: () => false,
  default: true,
  tag: 'tag:yaml.org,2002:value',
  test: /^=$/,
  resolve: () => {
    throw new Error(`a plain '=' cannot be read (Ansible's YAML loader refuses it too): quote it`);
  },
};

const REPLACED = ['null', 'bool', 'int', 'float', 'timestamp'].map((t) => `tag:yaml.org,2002:${t}`);

/** The `yaml` package's 1.1 tags with PyYAML's scalar types in place of its own. */
export function pyyamlTags(tags: Tags): Tags {
  const kept = tags.filter((t) => typeof t !== 'object' || !REPLACED.includes(t.tag));
  return [nullTag, bool, int, float, timestamp, valueKey, ...kept];
}
