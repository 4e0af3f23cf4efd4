/**
 * Text edits with the outcome Ansible's documented behaviour gives them: run against our pure
 * functions (lines.test.ts) and, where Ansible is installed, against Ansible's own modules
 * (ansible-text.test.ts), so that the expectations are Ansible's, not our code's.
 */
export interface TextCase {
  name: string;
  module: 'lineinfile' | 'blockinfile' | 'replace';
  args: Record<string, unknown>;
  /** the file before (null: no file) */
  before: string | null;
  /** the file after (null: no file); equal to `before` when nothing changes */
  after: string | null;
  /** the task fails (after is then before) */
  fails?: boolean;
  /** where we differ from Ansible 2.14 on purpose (README): what Ansible makes of it */
  ansible?: string;
}

export const CASES: TextCase[] = [
  // lineinfile
  { name: 'line appended at EOF', module: 'lineinfile', args: { line: 'c' }, before: 'a\nb\n', after: 'a\nb\nc\n' },
  { name: 'line present already: unchanged', module: 'lineinfile', args: { line: 'b' }, before: 'a\nb\nc\n', after: 'a\nb\nc\n' },
  { name: 'no trailing newline: one added before the line', module: 'lineinfile', args: { line: 'c' }, before: 'a\nb', after: 'a\nb\nc\n' },
  { name: 'regexp replaces the last matching line', module: 'lineinfile', args: { regexp: '^port', line: 'port 22' }, before: 'port 1\nx\nport 2\n', after: 'port 1\nx\nport 22\n' },
  { name: 'firstmatch: regexp replaces the first matching line', module: 'lineinfile', args: { regexp: '^port', line: 'port 22', firstmatch: true }, before: 'port 1\nx\nport 2\n', after: 'port 22\nx\nport 2\n' },
  { name: 'regexp with $ matches before the newline', module: 'lineinfile', args: { regexp: '^PermitRootLogin .*$', line: 'PermitRootLogin no' }, before: 'PermitRootLogin yes\nUsePAM yes\n', after: 'PermitRootLogin no\nUsePAM yes\n' },
  { name: 'regexp not found: appended', module: 'lineinfile', args: { regexp: '^nope', line: 'new' }, before: 'a\n', after: 'a\nnew\n' },
  { name: 'insertafter regexp: after its last match', module: 'lineinfile', args: { line: 'new', insertafter: '^#' }, before: '#1\na\n#2\nb\n', after: '#1\na\n#2\nnew\nb\n' },
  { name: 'insertafter with firstmatch: after its first match', module: 'lineinfile', args: { line: 'new', insertafter: '^#', firstmatch: true }, before: '#1\na\n#2\nb\n', after: '#1\nnew\na\n#2\nb\n' },
  { name: 'insertafter not found: EOF', module: 'lineinfile', args: { line: 'new', insertafter: '^zzz' }, before: 'a\nb\n', after: 'a\nb\nnew\n' },
  { name: 'insertbefore regexp', module: 'lineinfile', args: { line: 'new', insertbefore: '^b' }, before: 'a\nb\n', after: 'a\nnew\nb\n' },
  { name: 'insertbefore BOF', module: 'lineinfile', args: { line: 'new', insertbefore: 'BOF' }, before: 'a\n', after: 'new\na\n' },
  { name: 'insertafter BOF', module: 'lineinfile', args: { line: 'new', insertafter: 'BOF' }, before: 'a\n', after: 'new\na\n' },
  // Ansible 2.14 joins the two lines ('bnew'): we end the last line first, as its EOF insertion does
  { name: 'insertafter matching the last line without newline', module: 'lineinfile', args: { line: 'new', insertafter: '^b' }, before: 'a\nb', after: 'a\nb\nnew\n', ansible: 'a\nbnew\n' },
  { name: 'insertafter: the line already follows the match', module: 'lineinfile', args: { line: 'new', insertafter: '^a' }, before: 'a\nnew\nb\n', after: 'a\nnew\nb\n' },
  { name: 'backrefs expand groups', module: 'lineinfile', args: { regexp: '^(Listen) (\\d+)$', line: '\\1 8\\2', backrefs: true }, before: 'Listen 80\n', after: 'Listen 880\n' },
  { name: 'backrefs named group', module: 'lineinfile', args: { regexp: '^(?P<k>\\w+)=old$', line: '\\g<k>=new', backrefs: true }, before: 'a=old\n', after: 'a=new\n' },
  { name: 'backrefs without a match: unchanged', module: 'lineinfile', args: { regexp: '^nope(\\d)', line: 'x\\1', backrefs: true }, before: 'a\n', after: 'a\n' },
  { name: 'search_string replaces the line holding it', module: 'lineinfile', args: { search_string: 'a.b', line: 'ok' }, before: 'xa.by\naxb\n', after: 'ok\naxb\n' },
  { name: 'exact line replaced where the last line has no newline', module: 'lineinfile', args: { regexp: '^b', line: 'b' }, before: 'a\nb', after: 'a\nb\n' },
  { name: 'absent: every matching line removed', module: 'lineinfile', args: { regexp: '^#', state: 'absent' }, before: '#1\na\n#2\n', after: 'a\n' },
  { name: 'absent by line', module: 'lineinfile', args: { line: 'a', state: 'absent' }, before: 'a\nb\na\n', after: 'b\n' },
  { name: 'absent, no file: nothing', module: 'lineinfile', args: { line: 'a', state: 'absent' }, before: null, after: null },
  { name: 'no file without create: fails', module: 'lineinfile', args: { line: 'a' }, before: null, after: null, fails: true },
  { name: 'create: a new file with the line', module: 'lineinfile', args: { line: 'a', create: true }, before: null, after: 'a\n' },
  { name: 'CRLF line of the same text is rewritten', module: 'lineinfile', args: { regexp: '^a', line: 'a' }, before: 'a\r\nb\r\n', after: 'a\nb\r\n' },
  // blockinfile
  { name: 'block appended with markers', module: 'blockinfile', args: { block: 'x=1\ny=2' }, before: 'a\n', after: 'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx=1\ny=2\n# END ANSIBLE MANAGED BLOCK\n' },
  { name: 'block replaced between markers', module: 'blockinfile', args: { block: 'z' }, before: 'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nb\n', after: 'a\n# BEGIN ANSIBLE MANAGED BLOCK\nz\n# END ANSIBLE MANAGED BLOCK\nb\n' },
  { name: 'block unchanged', module: 'blockinfile', args: { block: 'x\n' }, before: '# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n', after: '# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n' },
  { name: 'block removed', module: 'blockinfile', args: { state: 'absent' }, before: 'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nb\n', after: 'a\nb\n' },
  { name: 'empty block removes it too', module: 'blockinfile', args: { block: '' }, before: '# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n', after: '' },
  { name: 'custom marker and insertbefore BOF', module: 'blockinfile', args: { block: 'k', marker: '// {mark} app', marker_begin: 'start', marker_end: 'stop', insertbefore: 'BOF' }, before: 'a\n', after: '// start app\nk\n// stop app\na\n' },
  { name: 'insertafter regexp: after its last match', module: 'blockinfile', args: { block: 'k', insertafter: '^#' }, before: '#1\n#2\nb\n', after: '#1\n#2\n# BEGIN ANSIBLE MANAGED BLOCK\nk\n# END ANSIBLE MANAGED BLOCK\nb\n' },
  { name: 'insertbefore regexp not found: EOF', module: 'blockinfile', args: { block: 'k', insertbefore: '^zz' }, before: 'a', after: 'a\n# BEGIN ANSIBLE MANAGED BLOCK\nk\n# END ANSIBLE MANAGED BLOCK\n' },
  { name: 'absent without a block: a missing final newline is added', module: 'blockinfile', args: { state: 'absent' }, before: 'a', after: 'a\n' },
  { name: 'create: a new file with the block', module: 'blockinfile', args: { block: 'k', create: true }, before: null, after: '# BEGIN ANSIBLE MANAGED BLOCK\nk\n# END ANSIBLE MANAGED BLOCK\n' },
  { name: 'no file without create: fails', module: 'blockinfile', args: { block: 'k' }, before: null, after: null, fails: true },
  // replace
  { name: 'every match replaced, multiline ^', module: 'replace', args: { regexp: '^old', replace: 'new' }, before: 'old 1\nold 2\nx old\n', after: 'new 1\nnew 2\nx old\n' },
  { name: 'groups in the replacement', module: 'replace', args: { regexp: '(\\w+)=(\\w+)', replace: '\\2=\\1' }, before: 'a=b c=d\n', after: 'b=a d=c\n' },
  { name: 'no match: unchanged', module: 'replace', args: { regexp: 'zzz', replace: 'y' }, before: 'a\n', after: 'a\n' },
  { name: 'replaced by the same text: unchanged', module: 'replace', args: { regexp: 'a', replace: 'a' }, before: 'a\n', after: 'a\n' },
  { name: 'after and before bound the section', module: 'replace', args: { regexp: 'x', replace: 'y', after: '\\[s\\]', before: '\\[t\\]' }, before: 'x\n[s]\nx x\n[t]\nx\n', after: 'x\n[s]\ny y\n[t]\nx\n' },
  { name: 'after only', module: 'replace', args: { regexp: 'x', replace: 'y', after: 'START' }, before: 'x START x\n', after: 'x START y\n' },
  { name: 'section not found: unchanged', module: 'replace', args: { regexp: 'x', replace: 'y', after: 'NOPE' }, before: 'x\n', after: 'x\n' },
  { name: 'empty matches around characters', module: 'replace', args: { regexp: 'x*', replace: '-' }, before: 'abxd', after: '-a-b--d-' },
  { name: 'line removal with a trailing $', module: 'replace', args: { regexp: '^#.*$\\n', replace: '' }, before: '#c\na\n#d\n', after: 'a\n' },
  { name: 'no file: fails', module: 'replace', args: { regexp: 'a' }, before: null, after: null, fails: true },
];
