// Keeps the GPU stack's own logging off the user's terminal unless --verbose. Dawn ("Warning: ... artificially
// reduced"), Mesa's EGL and the Vulkan loader (XDG_RUNTIME_DIR, missing ICDs, with stack paths) write straight to
// file descriptor 2 from native code while an adapter is requested. Pointing fd 2 at /dev/null around the request
// is the one thing that silences all of them:
// - a probe in a child process would not: the device must be opened in this process (a GPUDevice cannot cross
//   processes), and this process's own request prints the same lines again;
// - environment switches (EGL_LOG_LEVEL, VK_LOADER_DEBUG) reach Mesa and the loader, never Dawn.
// The window is the adapter and device requests only, which the commands await before any work starts, so nothing
// of geospike's own is written inside it.
import { webgpuAddon } from './pump.js';

/** The GPU stack's logging is wanted: `--verbose` (src/cli/main.ts sets GEOSPIKE_VERBOSE). */
export function gpuLogsWanted(): boolean {
  return Boolean(process.env.GEOSPIKE_VERBOSE);
}

let depth = 0;
let saved = -1;

/** Runs `probe` with fd 2 pointed at /dev/null (unless --verbose), then restores it, whether `probe` threw or not. */
export async function quietStderr<T>(probe: () => Promise<T>): Promise<T> {
  if (gpuLogsWanted()) return probe();
  const addon = webgpuAddon();
  // Nested or overlapping windows share the outermost redirect: only it saved the real stderr.
  if (depth++ === 0) saved = addon.silenceStderr();
  try {
    return await probe();
  } finally {
    if (--depth === 0) {
      addon.restoreStderr(saved);
      saved = -1;
    }
  }
}
