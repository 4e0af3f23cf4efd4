/**
 * The file facts of one round trip, read with one `stat`, one `sha256sum` and one `cat` for all
 * of them instead of a `stat` and a `sha256sum` or `base64` per file (each process started costs
 * a host milliseconds, and a play reads a dozen files or more).
 *
 * Per file, the builtin part of its own script runs as it is (type, parent, nearest ancestor,
 * real path: file-script.ts `head` and `real`) and notes whether the file is there and readable.
 * Then, for all at once:
 *  - `stat` of every file that is there (its own script's four lines each);
 *  - the contents of the readable regular files whose content is asked for (at most MAX_CONTENT
 *    bytes, the sizes from `stat` deciding, as their own script does) and of those whose hash only
 *    is asked for that are small (at most SMALL_HASHED: their hash is taken on the controller, a
 *    `sha256sum` less), one after the other: one `tail -v -c +1` through one `base64`. `tail -v`
 *    puts a header with its name before each file; the controller cuts the contents at the sizes
 *    `stat` gave and finds each next header where the sizes say it starts, and the end of the
 *    last where the output ends: a file whose size changed between `stat` and `tail` fails the
 *    read (the tasks then read their own facts), it is never misread;
 *  - `sha256sum` of the other readable regular files (hash only, larger). (Printed as `content=`
 *    and `sha256=` lines, like its own script's, so that -vv hides them.)
 * If `stat` or `sha256sum` fails (a file removed meanwhile), each file's own script runs after
 * all, and its output is what counts. Paths that the own script reads with other commands
 * ('.', '..', '//', a relative path) run their own script in any case.
 */
import { createHash, randomBytes } from 'node:crypto';
import { sq } from '../../engine/shell.js';
import { TaskError } from '../contract.js';
import { fileScript, fileScriptParts, MAX_CONTENT, STAT_LINES, type FileParams } from './file-script.js';

const UNREADABLE = 'pf_unreadable=yes';
/** A file whose hash only is asked for is read whole, and hashed on the controller, up to this size. */
export const SMALL_HASHED = 64 * 1024;

export const fileBatch = { script: batchScript, split: splitBatch };

function batchScript(ps: FileParams[]): string {
  const nonce = randomBytes(6).toString('hex');
  const mark = `#pf${nonce}`;
  const parts = ps.map(fileScriptParts);
  const own = (i: number) => `echo '${mark} own ${i}'\n(\n${fileScript(ps[i])}\n)`;
  const plain = ps.map((_p, i) => i).filter((i) => parts[i].plain);
  // positional parameters: the paths of the plain files whose index is in the list variable `v`
  const collect = (v: string, only = plain) => ['set --', ...only.map((i) => `case " ${v} " in *" ${i} "*) set -- "$@" ${sq(ps[i].path)} ;; esac`)].join('\n');
  const lines = [`echo '#pf ${nonce}'`, 'sx=; rx=; fb='];
  ps.forEach((p, i) => {
    if (!parts[i].plain) return void lines.push(own(i));
    lines.push(
      `echo '${mark} ${i}'`,
      parts[i].head,
      parts[i].real,
      `if [ -e "$p" ] || [ -L "$p" ]; then sx="$sx ${i}"; fi`,
      `if [ -f "$p" ] && [ ! -L "$p" ]; then if [ -r "$p" ]; then rx="$rx ${i}"; else echo ${UNREADABLE}; fi; fi`,
    );
  });
  lines.push(
    collect('$sx'),
    `echo "${mark} stat$sx"`,
    `if [ $# -gt 0 ]; then st=$(stat --printf '${STAT_LINES}\\n' -- "$@") || fb=1; printf '%s\\n' "$st"; fi`,
    // each file's size, as sz_<index>, read from stat's lines by builtins
    `if [ -z "$fb" ] && [ -n "$sx" ]; then set -- $sx; while IFS= read -r l; do case $l in size=*) if [ $# -gt 0 ]; then eval "sz_$1=\\\${l#size=}"; shift; fi ;; esac; done <<PFEOF\n$st\nPFEOF\nfi`,
    // cx: read whole (content asked for, or a small file's hash); hx: hashed on the host
    'hx=; cx=',
    ...plain.map(
      (i) =>
        `case " $rx " in *" ${i} "*) if [ "\${sz_${i}:-x}" -le ${ps[i].content ? MAX_CONTENT : SMALL_HASHED} ] 2>/dev/null; then cx="$cx ${i}"; else hx="$hx ${i}"; fi ;; esac`,
    ),
    collect('$hx'),
    `echo "${mark} sha$hx"`,
    // as content= and sha256= lines, which -vv does not show (engine/display.ts traceOutput)
    `if [ $# -gt 0 ]; then h=$(sha256sum -- "$@") || fb=1; while IFS= read -r l; do printf 'sha256=%s\\n' "$l"; done <<PFEOF\n$h\nPFEOF\nfi`,
    collect('$cx'),
    `echo "${mark} content$cx"`,
    `printf 'content='; if [ $# -gt 0 ]; then tail -v -c +1 -- "$@" | base64 -w0; fi; echo`,
    `if [ -n "$fb" ]; then echo '${mark} fallback'`,
    ...plain.map(own),
    'fi',
  );
  return lines.join('\n');
}

/** A section of the batch's output: the words of its marker line and the lines below it. */
interface Part {
  words: string[];
  lines: string[];
}

function splitBatch(out: string, ps: FileParams[]): string[] {
  const nl = out.indexOf('\n');
  const nonce = /^#pf ([0-9a-f]{12})$/.exec(out.slice(0, nl))?.[1];
  if (!nonce) throw new TaskError(`unexpected output from the batched file facts: ${out.slice(0, 120)}`);
  const mark = `#pf${nonce} `;
  const parts: Part[] = [];
  for (const line of out.slice(nl + 1).split('\n')) {
    if (line.startsWith(mark)) parts.push({ words: line.slice(mark.length).split(' ').filter(Boolean), lines: [] });
    else parts[parts.length - 1]?.lines.push(line);
  }
  const bodies: (string | undefined)[] = new Array(ps.length);
  const own = (p: Part) => p.words[0] === 'own' && (bodies[Number(p.words[1])] = p.lines.join('\n'));
  const fallback = parts.findIndex((p) => p.words[0] === 'fallback');
  if (fallback >= 0) {
    // every file's own script ran: theirs is the answer, as before the batch
    for (const p of parts) own(p);
    return complete(bodies);
  }
  const section = (name: string) => {
    const p = parts.find((q) => q.words[0] === name);
    if (!p) throw new TaskError(`the batched file facts lack their ${name} section`);
    return { at: p.words.slice(1).map(Number), lines: p.lines.filter((l, j) => j < p.lines.length - 1 || l !== '') };
  };
  const stat = section('stat');
  const sha = section('sha');
  const content = section('content');
  if (stat.lines.length !== stat.at.length * 4) throw new TaskError(`stat printed ${stat.lines.length} lines for ${stat.at.length} files`);
  if (sha.lines.length !== sha.at.length) throw new TaskError(`sha256sum printed ${sha.lines.length} lines for ${sha.at.length} files`);
  const hashOf = new Map(
    sha.at.map((i, j) => {
      const hash = /^sha256=\\?([0-9a-f]{64}) /.exec(sha.lines[j])?.[1];
      if (!hash) throw new TaskError(`unexpected sha256sum line for ${ps[i].path}: ${sha.lines[j].slice(0, 120)}`);
      return [i, hash];
    }),
  );
  const data = Buffer.from(content.lines.join('').replace(/^content=/, ''), 'base64');
  let offset = 0;
  /** The next file's content in `data`: after the header `tail -v` prints before it, `size` bytes long. */
  const nextContent = (i: number, size: number): Buffer => {
    const header = Buffer.from(`${offset > 0 ? '\n' : ''}==> ${ps[i].path} <==\n`);
    if (!data.subarray(offset, offset + header.length).equals(header)) throw new TaskError(`the files' contents changed while their facts were read (at ${ps[i].path})`);
    const piece = data.subarray(offset + header.length, offset + header.length + size);
    offset += header.length + size;
    if (piece.length !== size) throw new TaskError(`${ps[i].path} changed while its facts were read`);
    return piece;
  };
  for (const p of parts) {
    if (p.words[0] === 'own') own(p);
    if (!/^\d+$/.test(p.words[0] ?? '')) continue;
    const i = Number(p.words[0]);
    const lines = p.lines.filter((l) => l !== UNREADABLE);
    const unreadable = lines.length < p.lines.length;
    const s = stat.at.indexOf(i);
    const statLines = s >= 0 ? stat.lines.slice(s * 4, s * 4 + 4) : [];
    const size = Number(statLines[3]?.slice('size='.length));
    if (content.at.includes(i)) {
      const piece = nextContent(i, size);
      if (ps[i].content) lines.push(`content=${piece.toString('base64')}`, 'content_read=yes');
      else lines.push(`sha256=${createHash('sha256').update(piece).digest('hex')}`);
    } else if (hashOf.has(i)) {
      lines.push(`sha256=${hashOf.get(i)}`);
    } else if (unreadable && ps[i].content && size <= MAX_CONTENT) {
      // its own script: `base64 < file` fails and prints an empty content
      lines.push('content=');
    }
    bodies[i] = [...lines.filter((l) => l !== ''), ...statLines].join('\n');
  }
  if (offset !== data.length) throw new TaskError(`the files' contents changed while their facts were read`);
  return complete(bodies);
}

function complete(bodies: (string | undefined)[]): string[] {
  const missing = bodies.findIndex((b) => b === undefined);
  if (missing >= 0) throw new TaskError(`the batched file facts lack file ${missing}`);
  return bodies as string[];
}
