// Where the kernel finds components: the built-in servers by name, and any others a placement
// names by module path. A component module's default export is its ComponentDef.

import { SysError } from '../ipc/errno.js';
import type { ComponentDef } from './api.js';

/** '.ts' when the kernel runs from source (tests), '.js' when compiled. */
export const SOURCE_EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** The built-in components, in the order `rumpus ps` lists them. */
export const BUILTIN = ['vfs', 'tmpfs', 'dev', 'ext2', 'blk'] as const;

export function builtinModule(name: string): string {
  return new URL(`../servers/${name}/index${SOURCE_EXT}`, import.meta.url).href;
}

const NAME = /^[a-z][a-z0-9]*$/;

export async function loadComponent(name: string, moduleUrl: string): Promise<ComponentDef> {
  let mod: { default?: unknown };
  try {
    mod = await import(moduleUrl);
  } catch (err) {
    throw new SysError('ENOENT', `component ${name}: cannot load ${moduleUrl}: ${(err as Error).message}`);
  }
  const def = mod.default as ComponentDef | undefined;
  if (!def || typeof def !== 'object' || typeof def.start !== 'function' || !Array.isArray(def.requires) ||
      typeof def.ops !== 'object' || def.ops === null) {
    throw new SysError('EINVAL', `component ${name}: ${moduleUrl} does not export a component definition`);
  }
  if (def.name !== name) throw new SysError('EINVAL', `component ${name}: ${moduleUrl} defines '${def.name}' instead`);
  if (!NAME.test(name)) throw new SysError('EINVAL', `component name '${name}' must be lower-case letters and digits`);
  return def;
}
