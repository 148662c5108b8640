// Loads the one-function addon (src/engine/webgpu/cc/pump.cc, built beside the native backend's addon by
// `npm run build`) that turns Node's event loop from inside a synchronous call; see read_sync.ts for why.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../util/package_root.js';

let pumpFn: (() => boolean) | undefined;

/** Runs one non-blocking turn of the event loop (Dawn's callbacks among them). Throws saying how to build it. */
export function pump(): void {
  if (!pumpFn) {
    const path = join(packageRoot(), 'build', 'Release', 'geospike_pump.node');
    if (!existsSync(path)) {
      throw new Error(`the webgpu backend needs ${path} for synchronous reads; build it with: npm run build`);
    }
    pumpFn = (createRequire(import.meta.url)(path) as { pump: () => boolean }).pump;
  }
  pumpFn();
}
