/** POSIX shell quoting: wrap in single quotes, escaping embedded single quotes. */
export function sq(s: string): string {
  if (s !== '' && /^[A-Za-z0-9_\-./:=@%+,]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The last `n` lines of a command's output (trimmed), for messages. */
export function lastLines(s: string, n: number): string {
  const t = s.trim();
  return t ? t.split('\n').slice(-n).join('\n') : '';
}

/** Join argv words into one shell-safe command string. */
export function shellJoin(argv: string[]): string {
  return argv.map(sq).join(' ');
}
