// kv_line: one `key=value` line in a file, added or updated in place (state: absent removes it).
// The file is read with the built-in file facts and written with the built-in content stages,
// so --check predicts it exactly and --diff shows the change.
export default ({ z, files }) => {
  const schema = z
    .object({
      path: z.string().startsWith('/', 'an absolute path'),
      key: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . -'),
      // a templated value may render to a number or a boolean: it is written as text
      value: z.union([z.string(), z.number(), z.boolean()]).transform(String).default(''),
      state: z.enum(['present', 'absent']).default('present'),
      mode: z.string().regex(/^0[0-7]{3}$/, "a quoted octal mode such as '0644'").optional(),
    })
    .strict();
  const dest = (a) => ({ dest: a.path, mode: a.mode });
  // the file's new content, or null when there is nothing to write
  const edited = (a, file) => {
    if (a.state === 'absent' && file.type === 'absent') return null;
    const lines = files.text(file, a.path).split('\n');
    if (lines.at(-1) === '') lines.pop();
    const at = lines.findIndex((l) => l.split('=')[0].trim() === a.key);
    const line = `${a.key}=${a.value}`;
    if (a.state === 'absent') {
      if (at >= 0) lines.splice(at, 1);
    } else if (at >= 0) lines[at] = line;
    else lines.push(line);
    return Buffer.from(lines.map((l) => `${l}\n`).join(''));
  };
  return {
    name: 'kv_line',
    type: 'state',
    schema,
    facts: (a, ctx) => files.contentStages.facts(dest(a), ctx),
    plan: (a, facts, ctx) => {
      const content = edited(a, facts.file);
      return content ? files.contentStages.plan(dest(a), facts, ctx, content) : [];
    },
    predict: (a, facts, changes, ctx) => {
      const content = edited(a, facts.file);
      return content ? files.contentStages.predict(dest(a), facts, changes, ctx, content) : [];
    },
    footprint: (a) => files.contentStages.footprint(dest(a)),
  };
};
