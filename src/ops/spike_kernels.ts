// The one switch for every kernel that exploits spikes (event-driven products, the fused spiking attention, saved
// spikes stored compactly): GEOSPIKE_SPIKE_KERNELS=0 runs the dense float path instead, to compare the two or to rule
// the spike kernels out; GEOSPIKE_SPIKE_STORE=0 turns off only the compact storage of saved spikes
// (src/ops/spike_store).
// Read at each call, so a test or a benchmark can flip them within one process.

const env = (name: string): string | undefined =>
  (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env[name];

/** False when GEOSPIKE_SPIKE_KERNELS is 0 (the browser, which has no process, keeps them on). */
export function spikeKernelsEnabled(): boolean {
  return env('GEOSPIKE_SPIKE_KERNELS') !== '0';
}

/** False when GEOSPIKE_SPIKE_STORE or GEOSPIKE_SPIKE_KERNELS is 0: saved spikes then stay float32, as before. */
export function spikeStoreEnabled(): boolean {
  return spikeKernelsEnabled() && env('GEOSPIKE_SPIKE_STORE') !== '0';
}
