/**
 * Reporters: turn run events into output.
 *  - terminal: an ora spinner with the live state of every host, task lines above it;
 *  - plain (no TTY, CI): one line per task per host;
 *  - JSON (--json): the report document on stdout at the end, the human lines on stderr.
 */
import type { Ora } from 'ora';
import pc from 'picocolors';
import type { Emit, RunEvent } from '../engine/events.js';
import type { RunReport, TaskReport } from '../engine/report.js';
import { describeStop } from '../engine/batches.js';

export interface ReporterOptions {
  json: boolean;
  diff: boolean;
  verbosity: number;
  /** Where human-readable lines go. */
  stream: NodeJS.WriteStream;
  tty: boolean;
}

const STATUS_COLOR: Record<TaskReport['status'], (s: string) => string> = {
  ok: pc.green,
  changed: pc.yellow,
  failed: pc.red,
  skipped: pc.cyan,
  unknown: pc.magenta,
};

function indent(s: string, pad: string): string {
  return s
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => pad + l)
    .join('\n');
}

function colorDiff(d: string): string {
  return d
    .split('\n')
    .map((l) => (l.startsWith('+') && !l.startsWith('+++') ? pc.green(l) : l.startsWith('-') && !l.startsWith('---') ? pc.red(l) : l.startsWith('@@') ? pc.cyan(l) : l))
    .join('\n');
}

export function formatTask(r: TaskReport, o: { diff: boolean; check: boolean }): string {
  const verb = o.check && r.status === 'changed' ? 'would change' : r.status;
  const head = `${pc.bold(r.host.padEnd(10))} ${STATUS_COLOR[r.status](verb.padEnd(12))} ${r.handler ? pc.dim('handler ') : ''}${r.title ?? r.task} ${pc.dim(`(${r.module}, ${r.durationMs} ms)`)}`;
  const lines = [head];
  for (const c of r.changes) {
    lines.push(`${' '.repeat(11)}${c.applied === false ? pc.dim('  (not applied) ') : '  ~ '}${c.summary}`);
    if (o.diff && c.diff) lines.push(indent(colorDiff(c.diff), ' '.repeat(15)));
  }
  if (r.note && (r.status !== 'ok' || r.changes.length === 0)) lines.push(pc.dim(`${' '.repeat(13)}${r.note}`));
  if (r.error) lines.push(pc.red(indent(r.error, ' '.repeat(13))) + (r.ignored ? pc.dim(' (ignored)') : ''));
  return lines.join('\n');
}

export function formatRecap(report: RunReport): string {
  const lines = [pc.bold(`\nRECAP${report.check ? ' (check mode: nothing was changed)' : ''}`)];
  for (const [host, r] of Object.entries(report.recap)) {
    const parts = [
      pc.green(`ok=${r.ok}`),
      (r.changed ? pc.yellow : pc.dim)(`${report.check ? 'would-change' : 'changed'}=${r.changed}`),
      (r.failed ? pc.red : pc.dim)(`failed=${r.failed}`),
      pc.dim(`skipped=${r.skipped}`),
      (r.unknown ? pc.magenta : pc.dim)(`unknown=${r.unknown}`),
      ...(r.ignored ? [pc.dim(`ignored=${r.ignored}`)] : []),
      (r.unreachable ? pc.red : pc.dim)(`unreachable=${r.unreachable ? 1 : 0}`),
    ];
    lines.push(`${pc.bold(host.padEnd(10))} ${parts.join('  ')}${r.unreachable && r.error ? `\n${' '.repeat(11)}${pc.red(r.error)}` : ''}`);
  }
  if (report.stopped) lines.push(pc.red(`STOPPED: ${describeStop(report.stopped)}`));
  const changed = Object.values(report.recap).reduce((n, r) => n + r.changed, 0);
  const unknown = Object.values(report.recap).reduce((n, r) => n + r.unknown, 0);
  const failed = Object.values(report.recap).some((r) => r.failed > 0 || r.unreachable);
  // a dry run with unknown tasks never claims convergence: the real run may change them
  const summary = report.interrupted
    ? pc.red('INTERRUPTED: the tasks listed above ran; the rest did not')
    : failed
      ? pc.red('FAILED')
      : unknown > 0
        ? pc.magenta(`${changed} task(s) would change, ${unknown} unknown (check mode cannot know what they will do; see above)`)
        : changed === 0
          ? pc.green('no changes: every host is converged')
          : pc.yellow(`${changed} task(s) ${report.check ? 'would change' : 'changed'}`);
  lines.push(`${summary} ${pc.dim(`in ${(report.durationMs / 1000).toFixed(1)} s`)}`);
  return lines.join('\n');
}

export async function createReporter(o: ReporterOptions): Promise<Emit> {
  const write = (s: string) => o.stream.write(s + '\n');
  let check = false;
  let spinner: Ora | undefined;
  const current = new Map<string, string>();
  const live = o.tty && !o.json;
  // the spinner (ora and its dependencies) is loaded only for a terminal
  const ora = live ? (await import('ora')).default : undefined;
  const refresh = () => {
    if (!spinner) return;
    spinner.text = [...current.entries()].map(([h, t]) => `${pc.bold(h)}: ${t}`).join(pc.dim(' | ')) || 'working';
  };
  const print = (s: string) => {
    if (spinner?.isSpinning) {
      spinner.clear();
      write(s);
      spinner.render();
    } else write(s);
  };
  return (e: RunEvent) => {
    switch (e.type) {
      case 'run-start':
        check = e.check;
        write(pc.bold(`${e.check ? 'CHECK (dry run)' : 'APPLY'} ${e.playbooks.join(', ')} on ${e.hosts.length} host(s) from ${e.inventory}`));
        if (ora) spinner = ora({ stream: o.stream, text: 'connecting' }).start();
        break;
      case 'play-start':
        print(pc.bold(pc.blue(`\nPLAY ${e.play}`)) + pc.dim(`${e.batch ? ` (batch ${e.batch})` : ''} [${e.hosts.join(', ') || 'no hosts matched: skipped'}]`));
        break;
      case 'host-connecting':
        current.set(e.host, 'connecting');
        refresh();
        break;
      case 'host-connected':
        if (o.verbosity > 0) print(pc.dim(`${e.host.padEnd(10)} connected in ${e.ms} ms`));
        break;
      case 'host-unreachable':
        current.delete(e.host);
        print(`${pc.bold(e.host.padEnd(10))} ${pc.red('UNREACHABLE'.padEnd(12))} ${e.error}`);
        refresh();
        break;
      case 'task-start':
        current.set(e.host, e.title ?? e.task);
        refresh();
        break;
      case 'task-result':
        print(formatTask(e.result, { diff: o.diff, check }));
        break;
      case 'command':
        print(pc.dim(`${e.host.padEnd(10)} $ ${e.cmd.length > 400 && o.verbosity < 2 ? e.cmd.slice(0, 400) + '…' : e.cmd}`.replace(/\n/g, `\n${' '.repeat(13)}`)));
        break;
      case 'command-output':
        if (o.verbosity >= 2) {
          const out = [e.stdout.trimEnd() && `stdout:\n${e.stdout.trimEnd()}`, e.stderr.trimEnd() && `stderr:\n${e.stderr.trimEnd()}`].filter(Boolean).join('\n');
          print(pc.dim(indent(`exit ${e.code}${out ? `\n${out}` : ''}`, ' '.repeat(13))));
        }
        break;
      case 'play-end':
        for (const h of current.keys()) current.set(h, 'waiting');
        refresh();
        break;
      case 'run-end':
        spinner?.stop();
        spinner = undefined;
        write(formatRecap(e.report));
        if (o.json) process.stdout.write(JSON.stringify(e.report, null, 2) + '\n');
        break;
    }
  };
}
