// The rumpus TypeScript API: boot a kernel under a policy, spawn client processes, halt; serve a
// kernel to other programs and connect to one.

export { boot, Kernel, type ProcChannel } from './kernel.js';
export { localControl, type KernelControl } from './control.js';
export { serve, type ServeOptions, type Server } from './serve/server.js';
export { connect, connectKernel, findToken, type ConnectOptions } from './serve/client.js';
export { TokenTable, defaultTokenOut, readClientToken, writeTokenFile, type Grant } from './serve/tokens.js';
export { PROTOCOL_VERSION, parseAddress } from './serve/wire.js';
export { DEFAULT_MOUNTS, type BootOptions, type MountSpec } from './boot-options.js';
export type { DomainInfo } from './domains.js';
export type { KernelEvent } from './supervisor.js';
export { FAULT_TYPES, FAULT_HELP, describeFault, parsePlan, type FaultSpec, type FaultType } from './faults.js';
export type { Supervision, Heartbeat } from './supervisor-policy.js';
export { Proc, SEEK_SET, SEEK_CUR, SEEK_END, type BatchOp, type BatchResult, type ClientPath, type Credentials, type ReaddirEntry } from './proc.js';
export { MAX_BATCH_BYTES, MAX_BATCH_OPS } from './batch.js';
export { displayName, fromByteString, toByteString } from './names.js';
export { SysError, strerror, errnoNumber, isErrno, fromHostError, type Errno } from '../ipc/errno.js';
export { THREAD_TRANSPORTS, type ThreadTransport } from './domain-host.js';
export { POLICIES, type PlacementSpec, type PolicyName } from './placement.js';
export * from './api.js';
