// The one switch for every kernel that exploits spikes (event-driven products, the fused spiking attention):
// GEOSPIKE_SPIKE_KERNELS=0 runs the dense float path instead, to compare the two or to rule the spike kernels out.
// Read at each call, so a test or a benchmark can flip it within one process.

/** False when GEOSPIKE_SPIKE_KERNELS is 0 (the browser, which has no process, keeps them on). */
export function spikeKernelsEnabled(): boolean {
  return (
    (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.GEOSPIKE_SPIKE_KERNELS !==
    '0'
  );
}
