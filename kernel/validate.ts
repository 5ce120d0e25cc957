// Checks a request's arguments against the op's declaration before the handler sees them, so
// every driver gets well-typed input and every caller gets the same EINVAL for bad input.
//
// The check runs where a call enters a domain, and the core runs it once more before it sends a
// client's call to another domain: the transports do not carry every value as it is (msgpackr
// turns any ArrayBufferView into bytes and a lone surrogate into U+FFFD; structured clone keeps
// both), so only a check made before the transport decides the same under every policy. What
// passes here crosses every transport unchanged and fits in every frame.

import { SysError } from '../ipc/errno.js';
import { MAX_IO } from '../ipc/frame.js';
import type { ArgSpec, ComponentDef, OpSpec } from './api.js';

/** Whether v is an object made by {} or Object.create(null): not an array, a typed array or a class instance. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
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
    case 'string': return typeof v === 'string' && v.isWellFormed();
    case 'boolean': return typeof v === 'boolean';
    case 'bytes': return v instanceof Uint8Array && v.byteLength <= MAX_IO;
    case 'handle':
      return isPlainObject(v) && isUint(v.ino) && isUint(v.gen) && Object.keys(v).length === 2;
    case 'string[]': return Array.isArray(v) && v.every((s) => typeof s === 'string' && s.isWellFormed());
    case 'uint[]': return Array.isArray(v) && v.every(isUint);
    case 'object': return isPlainObject(v);
    case 'any': return true;
    default: return false;
  }
}

const DESCRIBE: Record<string, string> = {
  uint: 'a non-negative integer', int: 'an integer', number: 'a finite number', string: 'a string',
  boolean: 'true or false', bytes: 'a Uint8Array', handle: 'a handle {ino, gen}',
  'string[]': 'an array of strings', 'uint[]': 'an array of non-negative integers', object: 'a plain object', any: 'a value',
};

/** A value as an error message names it: 'null', 'an array', '42', 'the number 1.5', 'a string'… */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'a Uint8Array';
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof SharedArrayBuffer) return `a ${v.constructor.name}`;
  if (typeof v === 'number' && !Number.isInteger(v)) return `the number ${v}`;
  if (typeof v === 'number') return `${v}`;
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** Why v is not of the type: what it must be and what it is. */
function mismatch(type: string, v: unknown): string {
  if (v instanceof Uint8Array && type === 'bytes') return `holds ${v.byteLength} bytes, more than one call may carry (${MAX_IO})`;
  const text = (s: unknown) => typeof s === 'string';
  if ((type === 'string' && text(v)) || (type === 'string[]' && Array.isArray(v) && v.every(text))) {
    return 'must be well-formed Unicode, got text with a lone surrogate (which no byte string encodes)';
  }
  return `must be ${DESCRIBE[type]}, got ${describeValue(v)}`;
}

/**
 * Checks a request to a component: ENOSYS for an op it does not serve, else EINVAL naming the
 * first argument that does not match the op's declaration. The same sentence whichever side of
 * a transport runs it.
 */
export function validateRequest(def: ComponentDef, op: string, args: unknown): asserts args is Record<string, unknown> {
  validateOp(def.name, def.ops, op, args);
}

/**
 * validateRequest against an op table of component `name`: for a component that checks the
 * requests it carries inside one of its own (vfs's batch, servers/vfs/sys-batch.ts), with the
 * same errnos and sentences as a request that came alone.
 */
export function validateOp(name: string, ops: Readonly<Record<string, OpSpec>>, op: string, args: unknown): asserts args is Record<string, unknown> {
  const spec = Object.hasOwn(ops, op) ? ops[op] : undefined;
  if (!spec) throw new SysError('ENOSYS', `${name}: unknown op '${op}'`);
  const problem = argsProblem(spec, args);
  if (problem !== undefined) throw new SysError('EINVAL', `${name}.${op}: ${problem}`);
}

/** One declared argument, its ArgSpec taken apart once. */
interface Declared {
  key: string;
  type: string;
  optional: boolean;
}

/**
 * Each op's arguments taken apart once, on first use: every request to a domain is checked,
 * and splitting the declarations on each was a measurable part of a null syscall.
 */
const COMPILED = new WeakMap<OpSpec, Declared[]>();

function compiled(spec: OpSpec): Declared[] {
  let list = COMPILED.get(spec);
  if (list === undefined) {
    list = (Object.entries(spec.args) as [string, ArgSpec][]).map(([key, decl]) => {
      const optional = decl.endsWith('?');
      return { key, type: optional ? decl.slice(0, -1) : decl, optional };
    });
    COMPILED.set(spec, list);
  }
  return list;
}

/**
 * Why `args` do not match the op's declared arguments (the sentence after the op's name), or
 * undefined when they do: first an argument not declared, then, in declared order, one missing
 * or of the wrong type.
 */
function argsProblem(spec: OpSpec, args: unknown): string | undefined {
  if (!isPlainObject(args)) return `arguments must be an object, got ${describeValue(args)}`;
  // for-in rather than Object.keys, which makes an array per request; hasOwn skips what for-in
  // would find on a prototype.
  for (const key in args) {
    if (Object.hasOwn(args, key) && !Object.hasOwn(spec.args, key) && args[key] !== undefined) return `unknown argument '${key}'`;
  }
  const declared = compiled(spec);
  for (let i = 0; i < declared.length; i++) { // indexed: no iterator per request
    const { key, type, optional } = declared[i];
    const v = args[key];
    if (v === undefined) {
      if (optional) continue;
      return `missing argument '${key}' (${DESCRIBE[type]})`;
    }
    if (!matches(type, v)) return `argument '${key}' ${mismatch(type, v)}`;
  }
  return undefined;
}
