/// <reference types="@webgpu/types" />
// Finds a WebGPU adapter through Dawn's Node binding (npm `webgpu`, whose prebuilt dawn.node ships in the package)
// and opens a device with the adapter's largest limits. A hardware adapter (Vulkan, Metal, D3D12) is tried first; a
// machine without one gets Mesa's llvmpipe through OpenGL ES in compatibility mode, which runs every kernel, slowly:
// that is how the tests and CI run, and `auto` never picks it.
import { existsSync, readdirSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { gpuLogsWanted, quietStderr } from './quiet_stderr.js';

export interface AcquiredDevice {
  device: GPUDevice;
  info: GPUAdapterInfo;
  /** A software rasterizer (llvmpipe, lavapipe, SwiftShader): correct but no faster than the CPU backends. */
  software: boolean;
  /** e.g. "llvmpipe (LLVM 15.0.6, 256 bits) via opengl", for logs and bench reports. */
  label: string;
}

const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|software|basic render/i;

// Dawn reports a missing libvulkan on stderr at every probe; on a Linux machine without one there is no hardware
// adapter to find, so `auto` does not probe (and does not print Dawn's warning on every CPU-only run).
function vulkanLoaderPresent(): boolean {
  if (process.platform !== 'linux') return true;
  return ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'].some(
    (dir) => existsSync(`${dir}/libvulkan.so.1`),
  );
}

// `auto` probes only where a GPU is likely: a render node or an NVIDIA device on Linux (a container without one has
// no GPU to find, and the probe only prints the GPU stack's warnings). Elsewhere the OS decides.
function gpuDevicePresent(): boolean {
  if (process.platform !== 'linux') return true;
  const listed = (dir: string, re: RegExp) => {
    try {
      return readdirSync(dir).some((f) => re.test(f));
    } catch {
      return false;
    }
  };
  return listed('/dev/dri', /^renderD\d+$/) || listed('/dev', /^nvidia\d+$/);
}

function describe(info: GPUAdapterInfo, via: string): string {
  const name = info.description || info.device || info.vendor || 'unknown adapter';
  return `${name}${
    info.device && info.description && !info.description.includes(info.device) ? ` (${info.device})` : ''
  } via ${via}`;
}

export function isSoftware(info: GPUAdapterInfo): boolean {
  return (
    Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter) ||
    SOFTWARE.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`)
  );
}

async function openDevice(gpu: GPU, adapter: GPUAdapter, via: string): Promise<AcquiredDevice> {
  // tfjs-backend-webgpu checks for navigator.gpu before it will construct (Node 20 has no navigator).
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (!nav) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else if (!nav.gpu) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  const l = adapter.limits;
  // As tfjs-backend-webgpu's own factory: ask for the adapter's largest buffers and workgroups, not the defaults.
  const device = await adapter.requestDevice({
    requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
    requiredLimits: {
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage, // 4 by default in compatibility mode
    },
  });
  return { device, info: adapter.info, software: isSoftware(adapter.info), label: describe(adapter.info, via) };
}

/**
 * Opens a device. hardwareOnly (`auto`): only a hardware adapter will do; throws otherwise.
 * Throws, saying what was tried and how to fix it, when no adapter can be had.
 * The GPU stack's own logging is silenced meanwhile, unless --verbose (quiet_stderr.ts).
 */
export async function acquireDevice(hardwareOnly: boolean): Promise<AcquiredDevice> {
  // tfjs-backend-webgpu looks for navigator.gpu and the GPU* constants (GPUBufferUsage...) as browser globals.
  Object.assign(globalThis, globals);
  const probe = vulkanLoaderPresent();
  if (hardwareOnly && !probe) throw new Error('no GPU: the Vulkan loader (libvulkan.so.1) is not installed');
  if (hardwareOnly && !gpuDevicePresent()) throw new Error('no GPU device (/dev/dri/renderD*, /dev/nvidia*) found');
  return quietStderr(() => requestDevice(hardwareOnly, probe));
}

async function requestDevice(hardwareOnly: boolean, probe: boolean): Promise<AcquiredDevice> {
  // Mesa's EGL logs (XDG_RUNTIME_DIR, missing drivers) are for whoever debugs the GPU stack, not for every run.
  if (!gpuLogsWanted()) process.env.EGL_LOG_LEVEL ??= 'fatal';
  const gpu = create([]);
  const native = probe ? await gpu.requestAdapter({ powerPreference: 'high-performance' }) : null;
  if (native && (!hardwareOnly || !isSoftware(native.info))) return openDevice(gpu, native, 'native API');
  if (hardwareOnly) {
    throw new Error(
      native
        ? `only a software adapter (${describe(native.info, 'Vulkan')}); auto uses webgpu on a hardware GPU only`
        : 'no hardware WebGPU adapter found',
    );
  }
  // Headless Linux: EGL without a display server (Mesa's surfaceless platform) gives llvmpipe.
  if (process.platform === 'linux') process.env.EGL_PLATFORM ??= 'surfaceless';
  const glGpu = create(['backend=opengl']);
  const gl = await glGpu.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
  if (gl) return openDevice(glGpu, gl, 'OpenGL');
  throw new Error(
    "no WebGPU adapter: neither a GPU (Vulkan/Metal/D3D12) nor Mesa's OpenGL software renderer was found. " +
      'On Debian: apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri (scripts/setup.sh installs them)' +
      (gpuLogsWanted() ? '' : "; --verbose shows the GPU stack's own messages"),
  );
}
