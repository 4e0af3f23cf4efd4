/**
 * An own module written in TypeScript: compiled with esbuild when a playbook uses it (types are
 * only stripped, never checked: `tsc` in the user's project does that), bundled with the
 * relative files it imports, and imported from memory, so nothing is written anywhere.
 */
import { resolve } from 'node:path';
import { ConfigError, displayPath } from '../load/yaml.js';

interface EsbuildMessage {
  text: string;
  location?: { file: string; line: number; column: number } | null;
}

/** A data: URL of the compiled module; a ConfigError with file:line:col and esbuild's reason when it does not compile. */
export async function compiledModuleUrl(file: string): Promise<string> {
  const { build } = await import('esbuild');
  let code: string;
  try {
    const out = await build({
      entryPoints: [file],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      // packages from the project's node_modules are bundled too: a data: URL cannot resolve them
      logLevel: 'silent',
    });
    code = out.outputFiles[0].text;
  } catch (e) {
    const errors = (e as { errors?: EsbuildMessage[] }).errors;
    if (!Array.isArray(errors) || errors.length === 0) throw new ConfigError(`${displayPath(file)}: cannot compile the module: ${(e as Error).message}`);
    const lines = errors.map((m) => (m.location ? `${displayPath(resolve(m.location.file))}:${m.location.line}:${m.location.column + 1}: ${m.text}` : `${displayPath(file)}: ${m.text}`));
    throw new ConfigError(`${displayPath(file)}: the module does not compile:\n${lines.map((l) => `  ${l}`).join('\n')}`);
  }
  return `data:text/javascript;base64,${Buffer.from(code).toString('base64')}`;
}
