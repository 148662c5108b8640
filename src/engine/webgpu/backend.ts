/// <reference types="@webgpu/types" />
// The `webgpu` backend: tfjs-backend-webgpu's WebGPUBackend on a Dawn device (device.ts), with what Node needs and
// what a training run must not lack:
// - synchronous reads (dataSync, which the models and tests use): tfjs reads through an OffscreenCanvas in a
//   browser; here a staging buffer is mapped while the event loop is turned by hand (pump.ts);
// - GPU errors never pass silently: Dawn reports a validation error (a buffer over a limit, say) to the device, not
//   to tfjs, which then returns stale data. Every error the device raises is kept and thrown at the next program or
//   read, and every program's buffers are checked against the adapter's limits before dispatch, naming both;
// - device loss stops the run with the reason.
import type { BackendValues, DataId, DataType, TensorInfo } from '@tensorflow/tfjs-core';
import { env, util } from '@tensorflow/tfjs-core';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { AcquiredDevice } from './device.js';
import { pump } from './pump.js';

export const WEBGPU = 'webgpu';

/** WebGPUBackend's members that its typings mark private, used here the way the class itself uses them. */
interface Internals {
  commandQueueOwnedIds: WeakSet<DataId>;
  uniformPendingDisposal: GPUBuffer[];
  computePassEncoder: GPUComputePassEncoder | null;
  commandEncoder: GPUCommandEncoder | null;
  dispatchCountInPass: number;
  makeUniforms(u: ProgramUniform): GPUBufferBinding;
  convertAndCacheOnCPU(dataId: DataId, values: BackendValues): BackendValues;
}
export type ProgramUniform = Array<{ type: 'float32' | 'int32' | 'uint32'; data: number[] }>;

interface TfjsProgram {
  outputShape: number[];
  constructor: { name: string };
}

/** Longest a synchronous read waits for the GPU before it gives up saying so. */
const READ_TIMEOUT_MS = 10 * 60_000;

const MiB = 1024 * 1024;

function formatBytes(n: number): string {
  return n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : `${n} bytes`;
}

export class GeospikeWebGPUBackend extends WebGPUBackend {
  readonly label: string;
  readonly software: boolean;
  readonly maxBinding: number;
  private deviceError: string | undefined;
  private lostReason: string | undefined;

  constructor(acquired: AcquiredDevice) {
    super(acquired.device, acquired.info);
    this.label = acquired.label;
    this.software = acquired.software;
    this.maxBinding = acquired.device.limits.maxStorageBufferBindingSize;
    acquired.device.addEventListener('uncapturederror', (e) => {
      const err = (e as GPUUncapturedErrorEvent).error;
      this.deviceError ??= `${err.constructor.name}: ${err.message}`;
    });
    void acquired.device.lost.then((info) => {
      this.lostReason = `${info.reason ?? 'unknown'}: ${info.message}`;
    });
  }

  /** Throws the first error the device reported since the last check (and forgets it), or its loss. */
  checkDevice(): void {
    if (this.lostReason)
      throw new Error(
        `webgpu: the GPU device was lost (${this.lostReason}); restart the run (--resume continues from the last ` +
          `checkpoint)`,
      );
    const err = this.deviceError;
    if (err) {
      this.deviceError = undefined;
      throw new Error(`webgpu: the GPU reported an error, so results since the last read are invalid: ${err}`);
    }
  }

  /** Throws, naming the limit and the tensor, when a buffer of `bytes` could not be bound to a program. */
  checkBinding(bytes: number, what: string): void {
    if (bytes > this.maxBinding) {
      throw new Error(
        `webgpu: ${what} needs ${formatBytes(bytes)}, over this adapter's maxStorageBufferBindingSize of ` +
          `${formatBytes(this.maxBinding)} (${this.label}); use a smaller batch or model`,
      );
    }
  }

  private checkProgram(name: string, output: { shape: number[]; dtype: DataType }, inputs: TensorInfo[]): void {
    this.checkDevice();
    const bytes = (t: { shape: number[]; dtype: DataType }) =>
      util.sizeFromShape(t.shape) * (t.dtype === 'complex64' ? 8 : 4);
    this.checkBinding(bytes(output), `${name}'s output of shape [${output.shape}]`);
    inputs.forEach((t, i) => {
      this.checkBinding(bytes(t), `${name}'s input ${i} of shape [${t.shape}]`);
    });
  }

  override runWebGPUProgram(
    program: Parameters<WebGPUBackend['runWebGPUProgram']>[0],
    inputs: TensorInfo[],
    outputDtype: DataType,
    programDefinedUniform?: ProgramUniform,
    output?: TensorInfo,
  ): TensorInfo {
    const p = program as unknown as TfjsProgram;
    this.checkProgram(p.constructor.name, { shape: p.outputShape, dtype: outputDtype }, inputs);
    return super.runWebGPUProgram(program, inputs, outputDtype, programDefinedUniform as never, output);
  }

  /** The storage buffer of a tensor, uploaded first when its values are still on the CPU. */
  gpuBuffer(t: TensorInfo): GPUBuffer {
    this.uploadToGPU(t.dataId);
    return this.tensorMap.get(t.dataId).resource as GPUBuffer;
  }

  /**
   * Records one dispatch of `pipeline` into tfjs's command stream, binding outputs, then inputs, then the uniforms
   * (when any), in that order: geospike's own multi-output kernels (kernels/) use this where tfjs's programs have one
   * output. Returns the outputs, one per entry of `outputs` (a tuple when `outputs` is one).
   */
  dispatch<O extends Array<{ shape: number[]; dtype: DataType }>>(
    name: string,
    pipeline: GPUComputePipeline,
    inputs: TensorInfo[],
    outputs: [...O],
    workgroups: [number, number, number],
    uniforms?: ProgramUniform,
  ): { [K in keyof O]: TensorInfo } {
    const inner = this as unknown as Internals;
    for (const o of outputs) this.checkProgram(name, o, inputs);
    const outs = outputs.map((o) => this.makeTensorInfo(o.shape, o.dtype));
    const buffers = [...outs, ...inputs].map((t) => ({ buffer: this.gpuBuffer(t) }));
    const entries: GPUBindGroupEntry[] = buffers.map((resource, binding) => ({ binding, resource }));
    if (uniforms) entries.push({ binding: entries.length, resource: inner.makeUniforms(uniforms) });
    for (const t of [...inputs, ...outs]) inner.commandQueueOwnedIds.add(t.dataId);
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    this.ensureCommandEncoderReady();
    inner.computePassEncoder ??= inner.commandEncoder!.beginComputePass({});
    inner.computePassEncoder.setPipeline(pipeline);
    inner.computePassEncoder.setBindGroup(0, bindGroup);
    inner.computePassEncoder.dispatchWorkgroups(...workgroups);
    inner.dispatchCountInPass++;
    // As tfjs's recordAndSubmit: submit every WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE dispatches.
    if (inner.dispatchCountInPass >= (env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') as number)) {
      this.endComputePassEncoder();
      this.submitQueue();
    }
    return outs as { [K in keyof O]: TensorInfo };
  }

  override readSync(dataId: DataId): BackendValues {
    const data = this.tensorMap.get(dataId);
    if (data.values != null || data.dtype === 'string') return data.values!;
    if (data.dtype === 'complex64') throw new Error('webgpu: synchronous reads of complex64 tensors are not supported');
    this.checkDevice();
    const src = data.resource as GPUBuffer;
    const staging = this.bufferManager.acquireBuffer(src.size, GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ);
    this.ensureCommandEncoderReady();
    this.endComputePassEncoder();
    (this as unknown as Internals).commandEncoder!.copyBufferToBuffer(src, 0, staging, 0, src.size);
    this.submitQueue();
    staging.mapAsync(GPUMapMode.READ).catch(() => undefined); // a failed map reads as 'unmapped' below
    const deadline = Date.now() + READ_TIMEOUT_MS;
    while (staging.mapState === 'pending' && !this.lostReason) {
      if (Date.now() > deadline)
        throw new Error(`webgpu: the GPU did not finish within ${READ_TIMEOUT_MS / 60_000} minutes`);
      pump();
    }
    this.checkDevice();
    if (staging.mapState !== 'mapped')
      throw new Error('webgpu: reading a tensor back from the GPU failed (the buffer could not be mapped)');
    const bytes = staging.getMappedRange().slice(0);
    staging.unmap();
    this.bufferManager.releaseBuffer(staging);
    const values = util.convertBackendValuesAndArrayBuffer(bytes, data.dtype);
    return (this as unknown as Internals).convertAndCacheOnCPU(dataId, values);
  }

  override async read(dataId: object): Promise<BackendValues> {
    this.checkDevice();
    const values = await super.read(dataId);
    this.checkDevice();
    return values;
  }
}
