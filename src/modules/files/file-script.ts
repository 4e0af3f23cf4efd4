/** The shell script that reads one file's facts (facts.ts), in the parts the batch (file-batch.ts) reuses. */
import { sq } from '../../engine/shell.js';

/** Content is read (for diffs and hashes on the controller) up to this size; a larger file only gets its hash. */
export const MAX_CONTENT = 4 * 1024 * 1024;

export interface FileParams {
  path: string;
  content?: boolean;
}

/**
 * The parts of a file's fact script. Its own script is head, stat, hash, real; the batch
 * (file-batch.ts) runs head and real per file and one stat, sha256sum and cat for all.
 */
export function fileScriptParts(p: FileParams): { plain: boolean; head: string; stat: string; hash: string; real: string } {
  const path = sq(p.path);
  const par = p.path.replace(/\/[^/]*\/?$/, '') || '/';
  const parent = sq(par);
  // Forks are what a host spends its time on here (a dozen file facts in a play): builtins
  // where the result is the same; the old commands for paths with '.', '..', '//' or a '/' at the end.
  const plain = /^(\/[^/]+)+$/.test(p.path) && !/\/\.\.?(\/|$)/.test(p.path);
  const up = plain ? `d=\${d%/*}; d=\${d:-/}` : `d=$(dirname -- "$d")`;
  // realpath never returns on a link into itself (/x -> /x/a; coreutils 9.1): bounded, and no
  // other name when it fails (nothing can be made through such a link anyway)
  const slow = `if r=$(timeout 5 realpath -m -- ${parent} 2>/dev/null); then printf 'real=%s/%s\\n' "$r" "$(basename -- "$p")"; fi`;
  return {
    plain,
    head: [
      `p=${path}`,
      `if [ -L "$p" ]; then echo type=link; printf 'target=%s\\n' "$(readlink "$p")";`,
      `elif [ -d "$p" ]; then echo type=directory;`,
      `elif [ -f "$p" ]; then echo type=file;`,
      `elif [ -e "$p" ]; then echo type=other;`,
      `else echo type=absent; fi`,
      `if [ -d ${parent} ]; then echo parent=yes; else echo parent=no; fi`,
      // the nearest existing ancestor: writable? not a directory (then nothing can be made under it)?
      `d=${parent}; while [ ! -e "$d" ] && [ "$d" != / ]; do ${up}; done`,
      `if [ ! -d "$d" ]; then printf 'blocked=%s\\n' "$d"; echo dirw=no; elif [ -w "$d" ] && [ -x "$d" ]; then echo dirw=yes; else echo dirw=no; [ -x "$d" ] || echo hidden=yes; fi`,
      `if [ ! -e "$p" ] && [ ! -L "$p" ]; then printf 'near=%s\\n' "$d"; fi`,
    ].join('\n'),
    stat: `if [ -e "$p" ] || [ -L "$p" ]; then st=$(stat --printf '${STAT_LINES}' "$p") && printf '%s\\n' "$st"; fi`,
    // sha256sum prints "<hash>  -"; where the content is read, its hash is taken on the
    // controller instead (a process less; parse), if base64 read all of it
    hash: [
      `if [ -f "$p" ] && [ ! -L "$p" ]; then`,
      p.content
        ? `  if [ "\${st##*size=}" -le ${MAX_CONTENT} ]; then printf 'content='; if base64 -w0 < "$p"; then echo; echo content_read=yes; else echo; fi; else h=$(sha256sum < "$p") && printf 'sha256=%s\\n' "\${h%% *}"; fi`
        : `  h=$(sha256sum < "$p") && printf 'sha256=%s\\n' "\${h%% *}"`,
      `fi`,
    ].join('\n'),
    // the path with its directories' symlinks resolved (not its own: a link is a file of its own);
    // cd -P in this section's subshell resolves an existing parent as realpath does
    real: plain
      ? `if [ "$d" = ${parent} ] && [ -d "$d" ] && unset CDPATH && cd -P -- "$d" 2>/dev/null; then printf 'real=%s/%s\\n' "\${PWD%/}" ${sq(p.path.slice(p.path.lastIndexOf('/') + 1))}; else ${slow}; fi`
      : slow,
  };
}

/** What `stat` prints of a file (the last line without its newline): four lines. */
export const STAT_LINES = 'mode=%a\\nowner=%U\\ngroup=%G\\nsize=%s';

/** A file's own script: its parts in order. */
export function fileScript(p: FileParams): string {
  const s = fileScriptParts(p);
  return [s.head, s.stat, s.hash, s.real].join('\n');
}
