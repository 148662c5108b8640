// The `native` backend's loader for src/engine/backend.ts (which registers it as preferred). Kept free of imports
// from backend.ts so the two modules do not form an import cycle.
import { registerNativeBackend } from './backend.js';

/** Registers the native backend and returns its name; throws, saying why and how to fix it, when it cannot load. */
export async function loadNativeBackend(): Promise<string> {
  registerNativeBackend();
  return 'native';
}
