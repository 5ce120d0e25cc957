// Checks a request's arguments against the op's declaration before the handler sees them, so
// every driver gets well-typed input and every caller gets the same EINVAL for bad input.

import { SysError } from '../ipc/errno.js';
import type { ArgSpec, OpSpec } from './api.js';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || ArrayBuffer.isView(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function isUint(v: unknown): boolean {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

function matches(type: string, v: unknown): boolean {
  switch (type) {
    case 'uint': return isUint(v);
    case 'int': return Number.isSafeInteger(v);
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'string': return typeof v === 'string';
    case 'boolean': return typeof v === 'boolean';
    case 'bytes': return v instanceof Uint8Array;
    case 'handle':
      return isPlainObject(v) && isUint(v.ino) && isUint(v.gen) && Object.keys(v).length === 2;
    case 'string[]': return Array.isArray(v) && v.every((s) => typeof s === 'string');
    case 'object': return isPlainObject(v);
    case 'any': return true;
    default: return false;
  }
}

const DESCRIBE: Record<string, string> = {
  uint: 'a non-negative integer', int: 'an integer', number: 'a finite number', string: 'a string',
  boolean: 'true or false', bytes: 'a Uint8Array', handle: 'a handle {ino, gen}',
  'string[]': 'an array of strings', object: 'a plain object', any: 'a value',
};

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'a Uint8Array';
  if (typeof v === 'number' && !Number.isInteger(v)) return `the number ${v}`;
  if (typeof v === 'number') return `${v}`;
  return `a ${typeof v}`;
}

/** Throws EINVAL naming the first argument that does not match the op's declaration. */
export function validateArgs(where: string, spec: OpSpec, args: unknown): asserts args is Record<string, unknown> {
  if (!isPlainObject(args)) throw new SysError('EINVAL', `${where}: arguments must be an object, got ${describeValue(args)}`);
  for (const key of Object.keys(args)) {
    if (!Object.hasOwn(spec.args, key) && args[key] !== undefined) {
      throw new SysError('EINVAL', `${where}: unknown argument '${key}'`);
    }
  }
  for (const [key, decl] of Object.entries(spec.args) as [string, ArgSpec][]) {
    const optional = decl.endsWith('?');
    const type = optional ? decl.slice(0, -1) : decl;
    const v = args[key];
    if (v === undefined) {
      if (optional) continue;
      throw new SysError('EINVAL', `${where}: missing argument '${key}' (${DESCRIBE[type]})`);
    }
    if (!matches(type, v)) {
      throw new SysError('EINVAL', `${where}: argument '${key}' must be ${DESCRIBE[type]}, got ${describeValue(v)}`);
    }
  }
}
