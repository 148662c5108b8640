// Loads the webgpu backend's small addon (src/engine/webgpu/cc/, built beside the native backend's addon by
// `npm run build`): pump() turns Node's event loop from inside a synchronous call (see read_sync.ts for why), and
// quiet_stderr.ts silences the GPU stack's own logging around the adapter probe.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../util/package_root.js';

export interface WebGPUAddon {
  pump(): boolean;
  /** Points fd 2 at /dev/null; returns the saved original for restoreStderr, or -1 when nothing was redirected. */
  silenceStderr(): number;
  restoreStderr(saved: number): void;
}

let addon: WebGPUAddon | undefined;

/** The addon, loaded once; throws saying how to build it. */
export function webgpuAddon(): WebGPUAddon {
  if (!addon) {
    const path = join(packageRoot(), 'build', 'Release', 'geospike_pump.node');
    if (!existsSync(path)) {
      throw new Error(`the webgpu backend needs ${path}; build it with: npm run build`);
    }
    addon = createRequire(import.meta.url)(path) as WebGPUAddon;
  }
  return addon;
}

/** Runs one non-blocking turn of the event loop (Dawn's callbacks among them). Throws saying how to build it. */
export function pump(): void {
  webgpuAddon().pump();
}
