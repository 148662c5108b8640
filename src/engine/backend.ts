// Engine set-up: one place that picks the tfjs backend and registers what tfjs-core leaves out.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '../ops/index.js';
import { registerNativeBackend } from './native/backend.js';
import { loadWebGPUBackend } from './webgpu/register.js';
import { testFault } from '../util/test_fault.js';

/** Env override for the backend, below an explicit `--backend` flag. */
export const BACKEND_ENV = 'GEOSPIKE_BACKEND';

/**
 * A loader registers its backend with tfjs and returns its name, or throws saying why it cannot. `auto` is true when
 * `auto` is choosing: a loader may then decline what it would accept when asked by name (webgpu on a software GPU).
 */
export type BackendLoader = (auto: boolean) => Promise<string>;

// 'cpu' is the pure-JS reference backend: complete and always available. Faster backends add a loader here.
const loaders = new Map<string, BackendLoader>([['cpu', async () => 'cpu']]);
// Preference order for `auto`: the first that loads wins.
const autoOrder: string[] = ['cpu'];
// Backends that most machines lack (a GPU): `auto` skips them silently, and asking for one by name where it cannot
// load falls back to `auto` with one warning instead of stopping.
const optional = new Set<string>();

export function registerBackendLoader(
  name: string,
  loader: BackendLoader,
  preferred = false,
  isOptional = false,
): void {
  loaders.set(name, loader);
  if (isOptional) optional.add(name);
  if (!autoOrder.includes(name)) preferred ? autoOrder.unshift(name) : autoOrder.push(name);
}

// The C++/oneDNN backend (src/engine/native): preferred whenever its addon loads.
registerBackendLoader(
  'native',
  async () => {
    registerNativeBackend(); // throws, saying why and how to fix it, when the addon cannot load
    return 'native';
  },
  true,
);
// WebGPU (src/engine/webgpu): preferred over native on a hardware GPU; never chosen by `auto` on a software one.
registerBackendLoader('webgpu', loadWebGPUBackend, true, true);

export function backendNames(): string[] {
  return [...loaders.keys()];
}

let gradientsRegistered = false;

// tfjs-core's Node bundle registers no gradients; its ESM sources do, but use extensionless imports Node cannot
// resolve. The build bundles them into dist/vendor (see package.json `build`), loaded once here.
async function registerGradients(): Promise<void> {
  if (gradientsRegistered) return;
  await import(new URL('../../vendor/tfjs-gradients.mjs', import.meta.url).href);
  gradientsRegistered = true;
}

/** Why each backend that failed to load did not, as warned on stderr (the first time). */
const warned = new Map<string, string>();

/** Why `name` could not load in this process, or undefined when it did (or was never tried): for tests' messages. */
export function unavailableReason(name: string): string | undefined {
  return warned.get(name);
}

/**
 * Selects the backend: `requested` (a `--backend` flag) over $GEOSPIKE_BACKEND over `auto`.
 * `auto` takes the first loader that works and says once, on stderr, why a faster one did not load.
 * Returns the active backend's name.
 */
export async function initEngine(requested?: string): Promise<string> {
  // Lets the CLI tests see that a command checked its arguments before starting the engine.
  if (testFault('engine-start') !== undefined) throw new Error('test fault: the compute engine was started');
  await registerGradients();
  tf.enableProdMode(); // silences tfjs's "install tfjs-node" banner; we never want that package (see DESIGN.md)
  const choice = requested || process.env[BACKEND_ENV] || 'auto';
  if (choice !== 'auto') {
    const loader = loaders.get(choice);
    if (!loader) {
      throw new Error(`unknown backend '${choice}'; choose one of: auto, ${backendNames().join(', ')}`);
    }
    try {
      return await activate(await loader(false));
    } catch (err) {
      if (!optional.has(choice)) throw err;
      warnOnce(choice, `backend '${choice}' unavailable, falling back to auto: ${(err as Error).message}`);
    }
  }
  for (const name of autoOrder) {
    if (name === choice) continue;
    try {
      return await activate(await loaders.get(name)!(true));
    } catch (err) {
      if (!optional.has(name)) warnOnce(name, `backend '${name}' unavailable, falling back: ${(err as Error).message}`);
    }
  }
  throw new Error('no backend could be loaded');
}

function warnOnce(name: string, message: string): void {
  if (!warned.has(name)) {
    warned.set(name, message);
    process.stderr.write(`geospike: ${message}\n`);
  }
}

async function activate(name: string): Promise<string> {
  if (tf.getBackend() !== name && !(await tf.setBackend(name))) {
    throw new Error(`tfjs refused to activate backend '${name}'`);
  }
  return name;
}
