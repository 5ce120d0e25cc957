// piscina's task for the piscina.run baseline (bench/baselines.ts): it answers with what it was given.

export default (x: unknown): unknown => x;
