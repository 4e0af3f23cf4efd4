/**
 * Ansible's crontab format: a job is the line after its marker `#Ansible: NAME`; an environment
 * variable is a `NAME=value` line of its own. Pure functions over a crontab's lines.
 */

export const MARKER = '#Ansible: ';

export const SPECIAL_TIMES = ['reboot', 'yearly', 'annually', 'monthly', 'weekly', 'daily', 'hourly'] as const;

export interface JobSpec {
  minute: string;
  hour: string;
  day: string;
  month: string;
  weekday: string;
  special_time?: (typeof SPECIAL_TIMES)[number];
  job: string;
  disabled: boolean;
}

/** The job's line, as Ansible writes it (a cron.d file names the user after the time fields). */
export function jobLine(s: JobSpec, user: string | undefined): string {
  const prefix = s.disabled ? '#' : '';
  const when = s.special_time ? `@${s.special_time}` : `${s.minute} ${s.hour} ${s.day} ${s.month} ${s.weekday}`;
  return `${prefix}${when} ${user !== undefined ? `${user} ` : ''}${s.job}`;
}

/** The crontab with the job NAME set to `line` (undefined: removed); Ansible's find_job, including its adoption of an unmarked identical line. */
export function withJob(lines: string[], name: string, line: string | undefined, job: string | undefined): string[] {
  const marker = `${MARKER}${name}`;
  const out = [...lines];
  let i = out.findIndex((l, k) => l === marker && k + 1 < out.length);
  if (i < 0 && job !== undefined) {
    // a line equal to the job, without a marker above it: Ansible adopts it (adds the marker)
    const j = out.findIndex((l, k) => l === job && !(k > 0 && out[k - 1].startsWith(MARKER)));
    if (j >= 0) {
      out.splice(j, 0, marker);
      i = j;
    }
  }
  if (line === undefined) {
    if (i >= 0) out.splice(i, 2);
    return out;
  }
  if (i >= 0) out[i + 1] = line;
  else out.push(marker, line);
  return out;
}

/** The crontab with the variable NAME set to `value` (undefined: removed); a new one goes first, as Ansible adds it. */
export function withEnv(lines: string[], name: string, value: string | undefined): string[] {
  const out = [...lines];
  const i = out.findIndex((l) => l.startsWith(`${name}=`));
  const decl = value === undefined ? undefined : `${name}=${value}`;
  if (decl === undefined) {
    if (i >= 0) out.splice(i, 1);
  } else if (i >= 0) out[i] = decl;
  else out.unshift(decl);
  return out;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

export const FIELD_RANGES: Record<'minute' | 'hour' | 'day' | 'month' | 'weekday', [number, number, string[]]> = {
  minute: [0, 59, []],
  hour: [0, 23, []],
  day: [1, 31, []],
  month: [1, 12, MONTHS],
  weekday: [0, 7, DAYS],
};

/** Why a time field is not one cron reads (a number out of range, a stray character), or undefined. */
export function fieldError(field: keyof typeof FIELD_RANGES, value: string): string | undefined {
  const [lo, hi, names] = FIELD_RANGES[field];
  const bad = `${field} '${value}': expected *, numbers ${lo}-${hi}${names.length ? ` or names (${names[0]}, ...)` : ''}, ranges a-b, steps /n and lists a,b`;
  for (const part of value.split(',')) {
    const m = /^(\*|([0-9A-Za-z]+)(-([0-9A-Za-z]+))?)(\/(\d+))?$/.exec(part);
    if (!m) return bad;
    for (const v of [m[2], m[4]]) {
      if (v === undefined) continue;
      if (/^\d+$/.test(v)) {
        if (Number(v) < lo || Number(v) > hi) return `${field} '${value}': ${v} is out of range ${lo}-${hi}`;
      } else if (!names.includes(v.toLowerCase()) || m[4] !== undefined) return bad;
    }
    if (m[6] !== undefined && Number(m[6]) === 0) return `${field} '${value}': a step of 0`;
  }
  return undefined;
}
