// The package's published types (package.json `exports`/`types`): the module contract's
// declarations (src/modules/contract.ts) in dist/types/, so that a project's own module written
// in TypeScript is checked against it (`import type { StateModule } from 'provision'`).
// scripts/bundle.mjs runs it, so every build that bundles also has the types.
import ts from 'typescript';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist', 'types');
rmSync(outDir, { recursive: true, force: true });
const program = ts.createProgram([join(root, 'src', 'modules', 'contract.ts')], {
  declaration: true,
  emitDeclarationOnly: true,
  outDir,
  rootDir: join(root, 'src', 'modules'),
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  skipLibCheck: true,
  types: [],
});
const { diagnostics } = program.emit();
if (diagnostics.length) {
  console.error(ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' }));
  process.exit(1);
}
