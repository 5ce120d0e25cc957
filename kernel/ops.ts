// Ops as declarations that are both checked at run time and typed at compile time. An op is
// declared once — its arguments as ArgSpecs (validate.ts checks every request against them) and
// its result with op<Result>() — and TypeScript derives from that declaration the argument
// type each handler gets (ArgsOf), what it must return (ResultOf), and what ctx.call takes and
// gives for that component and op (Components, CallArgs, CallResult).

import type { Handle } from './api.js';

/**
 * The argument types an op can declare. A trailing '?' makes the argument optional.
 * - 'uint' a non-negative safe integer, 'int' any safe integer, 'number' any finite number
 * - 'string', 'boolean', 'bytes' (a Uint8Array), 'handle' ({ino, gen}, both uint)
 * - 'string[]', 'uint[]', 'object' (a plain object, checked by the op itself), 'any'
 */
export type ArgType =
  | 'uint' | 'int' | 'number' | 'string' | 'boolean' | 'bytes' | 'handle' | 'string[]' | 'uint[]' | 'object' | 'any';
export type ArgSpec = ArgType | `${ArgType}?`;

export interface OpSpec {
  /** Arguments by name. Unknown names and wrong types are refused with EINVAL. */
  args: Record<string, ArgSpec>;
  /**
   * True when running the op twice has the same effect as once (read, lookup, stat, write at
   * an offset). After a component restarts, the core retries an idempotent op that was in
   * flight, and fails a non-idempotent one with EIO.
   */
  idempotent: boolean;
}

/** The TypeScript type of a value that passed the check of one ArgType. */
export type ValueOf<T extends ArgType> =
  T extends 'uint' | 'int' | 'number' ? number
  : T extends 'string' ? string
  : T extends 'boolean' ? boolean
  : T extends 'bytes' ? Uint8Array
  : T extends 'handle' ? Handle
  : T extends 'string[]' ? string[]
  : T extends 'uint[]' ? number[]
  : T extends 'object' ? Record<string, unknown>
  : unknown;

type Flatten<T> = { [K in keyof T]: T[K] };

/** The arguments a handler of an op declared with `args` gets: required ones, then optional ones. */
export type ArgsFrom<A extends Record<string, ArgSpec>> = Flatten<
  { [K in keyof A as A[K] extends `${string}?` ? never : K]: A[K] extends ArgType ? ValueOf<A[K]> : never } &
  { [K in keyof A as A[K] extends `${string}?` ? K : never]?: A[K] extends `${infer T extends ArgType}?` ? ValueOf<T> : never }
>;

/** The arguments of op spec S, as its handler gets them. */
export type ArgsOf<S extends OpSpec> = ArgsFrom<S['args']>;

declare const RESULT: unique symbol;

/** An op spec that declares its result type (a compile-time mark: nothing at run time). */
export type Returning<R> = { readonly [RESULT]?: R };

/** What op spec S answers: its declared result, or unknown when it declares none. */
export type ResultOf<S extends OpSpec> = S extends Returning<infer R> ? R : unknown;

/**
 * Declares an op that answers R: `getattr: op<Attr>()({ args: { fsid: 'uint', h: 'handle' },
 * idempotent: true })`. At run time it returns the spec as given.
 */
export function op<R>() {
  return <const S extends OpSpec>(spec: S): S & Returning<R> => spec;
}

type Awaitable<T> = T | Promise<T>;

/** What a component's init returns: one handler per declared op, typed by its spec, and cleanup. */
export type Handlers<Ops extends Record<string, OpSpec> = Record<string, OpSpec>> = (string extends keyof Ops
  // Any component's handlers, as the domain that serves them sees them: arguments checked at run time.
  ? { [op: string]: (args: Record<string, unknown>) => unknown }
  : { [K in keyof Ops]: (args: ArgsOf<Ops[K]>) => Awaitable<ResultOf<Ops[K]>> }
) & {
  /** Called once at halt, after the last request: flush and release host resources. */
  stop?: () => void | Promise<void>;
};

/**
 * The op tables of the components, by name, for typing ctx.call. Each server adds its own by
 * declaration merging, next to its definition:
 *
 *     declare module '../../kernel/ops.js' { interface Components { blk: typeof BLK_OPS } }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface Components {}

type OpsOf<C extends string> = C extends keyof Components ? Components[C] : Record<string, OpSpec>;
type SpecOf<C extends string, O extends string> = O extends keyof OpsOf<C> ? (OpsOf<C>[O] extends OpSpec ? OpsOf<C>[O] : OpSpec) : OpSpec;

/** The ops ctx.call accepts for component C: its declared ones, or any name for a component not in Components. */
export type OpName<C extends string> = C extends keyof Components ? keyof Components[C] & string : string;
/** The arguments of a call to op O of component C (a plain record for a component not in Components). */
export type CallArgs<C extends string, O extends string> = C extends keyof Components ? ArgsOf<SpecOf<C, O>> : Record<string, unknown>;
/** The result of a call to op O of component C (unknown for a component not in Components). */
export type CallResult<C extends string, O extends string> = C extends keyof Components ? ResultOf<SpecOf<C, O>> : unknown;
