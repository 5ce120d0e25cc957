// Where the kernel finds components: the built-in servers by name, and any others a placement
// names by module path. A component module's default export is its ComponentDef.

import { SysError } from '../ipc/errno.js';
import type { ComponentDef } from './api.js';
import { importComponentModule } from './dynamic-import.js';

/** The built-in components, in the order `rumpus ps` lists them. */
export const BUILTIN = ['vfs', 'tmpfs', 'dev', 'ext2', 'cgd', 'dk', 'cipher', 'blk'] as const;

type Builtin = (typeof BUILTIN)[number];

/**
 * The built-in components declared pure (ComponentDef.pure): the microkernel and multiprocess
 * presets place each in a pool domain of its own (placement.ts). Kept here, beside BUILTIN,
 * because a policy's placement is made before any component is loaded; test/pool-domain.ts
 * checks it against the definitions.
 */
export const PURE_BUILTIN: readonly Builtin[] = ['cipher'];
type ComponentModule = { default?: unknown };

// Literal paths: the domain bundles (scripts/bundle.mjs) contain the built-in servers, and tsx
// finds them in source.
const BUILTIN_MODULES: Record<Builtin, () => Promise<ComponentModule>> = {
  vfs: () => import('../servers/vfs/index.js'),
  tmpfs: () => import('../servers/tmpfs/index.js'),
  dev: () => import('../servers/dev/index.js'),
  ext2: () => import('../servers/ext2/index.js'),
  cgd: () => import('../servers/cgd/index.js'),
  dk: () => import('../servers/dk/index.js'),
  cipher: () => import('../servers/cipher/index.js'),
  blk: () => import('../servers/blk/index.js'),
};

const NAME = /^[a-z][a-z0-9]*$/;

/** Loads a component: a built-in one by name (no moduleUrl), any other from its module. */
export async function loadComponent(name: string, moduleUrl?: string): Promise<ComponentDef> {
  const source = moduleUrl ?? `servers/${name}`;
  const load = moduleUrl !== undefined ? () => importComponentModule<ComponentModule>(moduleUrl)
    : Object.hasOwn(BUILTIN_MODULES, name) ? BUILTIN_MODULES[name as Builtin] : null;
  if (!load) throw new SysError('ENOENT', `component ${name}: there is no built-in component of that name`);
  let mod: ComponentModule;
  try {
    mod = await load();
  } catch (err) {
    // One line: Node's resolver adds a require stack of the domain's bundle after the sentence.
    throw new SysError('ENOENT', `component ${name}: cannot load ${source}: ${(err as Error).message.split('\n')[0]}`);
  }
  const def = mod.default as ComponentDef | undefined;
  if (!def || typeof def !== 'object' || typeof def.init?.fresh !== 'function' ||
      (def.init.restart !== undefined && typeof def.init.restart !== 'function') || !Array.isArray(def.requires) ||
      typeof def.ops !== 'object' || def.ops === null) {
    throw new SysError('EINVAL', `component ${name}: ${source} does not export a component definition`);
  }
  if (def.name !== name) throw new SysError('EINVAL', `component ${name}: ${source} defines '${def.name}' instead`);
  if (!NAME.test(name)) throw new SysError('EINVAL', `component name '${name}' must be lower-case letters and digits`);
  return def;
}
