/// <reference types="@webgpu/types" />
// Helpers for geospike's WGSL kernels (kernels/): compiled pipelines cached per device, and a 1-D grid of any size
// folded into two dimensions so it stays under maxComputeWorkgroupsPerDimension (65,535 by default).
import type { GeospikeWebGPUBackend } from './backend.js';

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

/** The compiled pipeline for `code` (entry point `main`), compiled once per device and key. */
export function pipeline(backend: GeospikeWebGPUBackend, key: string, code: () => string): GPUComputePipeline {
  let cache = pipelines.get(backend.device);
  if (!cache) {
    cache = new Map();
    pipelines.set(backend.device, cache);
  }
  let p = cache.get(key);
  if (!p) {
    const module = backend.device.createShaderModule({ code: code(), label: key });
    p = backend.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
    cache.set(key, p);
  }
  return p;
}

/**
 * WGSL declarations of a kernel's buffers in the order GeospikeWebGPUBackend.dispatch binds them: the outputs
 * (read_write), then the inputs (read), then the uniform `u` of struct `U`, numbered here so they match the call.
 */
export function bindings(outputs: string[], inputs: string[]): string {
  const storage = (name: string, i: number, access: string) =>
    `@group(0) @binding(${i}) var<storage, ${access}> ${name}: array<f32>;`;
  return [
    ...outputs.map((name, i) => storage(name, i, 'read_write')),
    ...inputs.map((name, i) => storage(name, outputs.length + i, 'read')),
    `@group(0) @binding(${outputs.length + inputs.length}) var<uniform> u: U;`,
  ].join('\n');
}

/** Threads per workgroup of the element-wise kernels (the compatibility-mode limit is 128 invocations). */
export const WG = 64;

/** Workgroups for n threads of WG each, as [x, y, 1]; the shader recovers its index with FLAT_INDEX. */
export function grid(backend: GeospikeWebGPUBackend, n: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / WG));
  const maxX = backend.device.limits.maxComputeWorkgroupsPerDimension;
  return groups <= maxX ? [groups, 1, 1] : [maxX, Math.ceil(groups / maxX), 1];
}

/** WGSL: the entry point's builtins and `let i: u32`, the flat thread index for grid(). */
export const FLAT_INDEX = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;`;

/** Threads per workgroup of the per-channel reductions (one workgroup per channel). */
export const RWG = 64;

/** WGSL: `var<workgroup> part` for a per-channel reduction's partial sums. */
export const PARTIALS = `var<workgroup> part: array<f32, ${RWG}>;`;

/** WGSL: sums part[] into part[0], every thread of the workgroup taking part (after each wrote its own entry). */
export const TREE_SUM = `workgroupBarrier();
  for (var w = ${RWG / 2}u; w > 0u; w >>= 1u) {
    if (lid < w) { part[lid] += part[lid + w]; }
    workgroupBarrier();
  }`;

/** The channel count of a channels-last tensor and the rows over which its per-channel statistics run. */
export function channelsLast(shape: number[], C: number): { M: number; C: number } {
  return { M: shape.reduce((a, b) => a * b, 1) / C, C };
}
