// The tweak XOR of AES-XTS in WebAssembly SIMD (source: xts-tweaks.wat beside this file, built
// with wabt's wat2wasm as that file says): 16 bytes per instruction, four units side by side.
// aesXts (kernel/hyp-crypto.ts) makes two such passes; in JavaScript, 32-bit words at a time,
// each took ~185 µs per MiB, more than AES-ECB itself (~250 µs); here, ~36 µs. Compiled on
// first use, once per thread.

/** The module, as wat2wasm builds it from xts-tweaks.wat (test/luks-cipher.ts checks that it does). */
export const XTS_TWEAKS_WASM = 'AGFzbQEAAAABCQFgBX9/f39/AAMCAQAFAwEAAgcWAgZtZW1vcnkCAAl4b3JUd2Vha3MAAAqOBAGLBAIFewV//QyHAAAAAAAAAAEAAAAAAAAAIQkgACABayEKIARBBHQhCwJAA0AgA0EESQ0BIAL9AAQAIQUgAv0ABBAhBiAC/QAEICEHIAL9AAQwIQggASEMIAQhDgNAIAwgCmogDP0ABAAgBf1R/QsEACAMIAtqIQ0gDSAKaiAN/QAEACAG/VH9CwQAIA0gC2ohDSANIApqIA39AAQAIAf9Uf0LBAAgDSALaiENIA0gCmogDf0ABAAgCP1R/QsEACAFQQH9ywEgBUEf/awBIAX9DQwNDg8MDQ4PBAUGBwQFBgcgCf1O/VEhBSAGQQH9ywEgBkEf/awBIAb9DQwNDg8MDQ4PBAUGBwQFBgcgCf1O/VEhBiAHQQH9ywEgB0Ef/awBIAf9DQwNDg8MDQ4PBAUGBwQFBgcgCf1O/VEhByAIQQH9ywEgCEEf/awBIAj9DQwNDg8MDQ4PBAUGBwQFBgcgCf1O/VEhCCAMQRBqIQwgDkEBayIODQALIAEgC0ECdGohASACQcAAaiECIANBBGshAwwACwsCQANAIANFDQEgAv0ABAAhBSAEIQ4DQCABIApqIAH9AAQAIAX9Uf0LBAAgBUEB/csBIAVBH/2sASAF/Q0MDQ4PDA0ODwQFBgcEBQYHIAn9Tv1RIQUgAUEQaiEBIA5BAWsiDg0ACyACQRBqIQIgA0EBayEDDAALCws=';

/** The compiled module's linear memory (two 64 KiB pages, never grown) and its one function. */
export interface XtsTweaks {
  /** All of the module's memory; offsets below are into it. */
  memory: Uint8Array;
  /**
   * XORs `units` units of `blocks` 16-byte blocks at byte `src` into byte `dst` (which may
   * be `src`), block j of unit i with T_i·α^j in GF(2^128), T_i the i-th 16 bytes at `tw`.
   */
  xorTweaks(dst: number, src: number, tw: number, units: number, blocks: number): void;
}

/** What this module uses of the WebAssembly global (the project's TypeScript libraries do not declare it). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => unknown;
  Instance: new (module: unknown) => { exports: { memory: { buffer: ArrayBuffer }; xorTweaks: XtsTweaks['xorTweaks'] } };
};

let instance: XtsTweaks | undefined;

/** This thread's instance of the module, compiled and started on the first call. */
export function xtsTweaks(): XtsTweaks {
  if (instance) return instance;
  const bytes = Buffer.from(XTS_TWEAKS_WASM, 'base64');
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  instance = { memory: new Uint8Array(exports.memory.buffer), xorTweaks: exports.xorTweaks };
  return instance;
}
