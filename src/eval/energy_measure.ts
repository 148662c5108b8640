// Measured energy, where the machine has a counter: Linux powercap (Intel RAPL, also AMD on recent kernels) for the
// CPU packages, NVML's total energy through nvidia-smi for an NVIDIA GPU. Read before and after a timed inference run;
// where no counter can be read the result is null with the reason, never an estimate.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { must } from '../util/must.js';

export const POWERCAP = '/sys/class/powercap';

export interface EnergyCounter {
  /** What is measured, in words. */
  source: string;
  /** Cumulative joules since some fixed point, per zone (each wraps on its own). */
  read(): number[];
  /** Per zone, the joules at which it wraps to 0 (NaN: unknown). */
  wrap: number[];
}

export interface Measurement {
  /** Joules per image, or null where nothing could be measured. */
  joulesPerImage: number | null;
  joules: number | null;
  seconds: number;
  images: number;
  /** The counter, or why there is none. */
  source: string | null;
  note: string;
}

/**
 * The package-level RAPL zones (intel-rapl:N, not their sub-zones, which are parts of the package and would be
 * counted twice), or the reason none can be read.
 */
export function raplCounter(root = POWERCAP): EnergyCounter | string {
  if (!existsSync(root)) return `this machine has no ${root} (no powercap/RAPL energy counter is exposed)`;
  const zones = readdirSync(root).filter((d) => /^intel-rapl:\d+$/.test(d));
  if (zones.length === 0) return `${root} has no package-level intel-rapl zone to read`;
  const files = zones.map((z) => join(root, z, 'energy_uj'));
  const num = (f: string) => Number(readFileSync(f, 'utf8').trim());
  try {
    for (const f of files) if (!Number.isFinite(num(f))) return `${f} does not hold a number`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EACCES'
      ? `${files[0]} is readable by root only (Linux restricts RAPL since 2020); run as root or grant read access`
      : `${files[0]} could not be read (${code ?? (err as Error).message})`;
  }
  const ranges = zones.map((z) => {
    const f = join(root, z, 'max_energy_range_uj');
    return existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : NaN;
  });
  const names = zones.map((z) => {
    const f = join(root, z, 'name');
    return existsSync(f) ? readFileSync(f, 'utf8').trim() : z;
  });
  return {
    source: `Linux powercap RAPL (${names.join(', ')}): whole CPU packages, including anything else running`,
    read: () => files.map((f) => num(f) / 1e6),
    wrap: ranges.map((r) => r / 1e6),
  };
}

/**
 * NVML's total energy of GPU 0 (millijoules since the driver loaded) through nvidia-smi, or the reason there is none.
 * Not every driver offers the field to nvidia-smi: driver 580 (an H200, 4 Dec 2026) refuses it as "not a valid field",
 * and then this says so rather than falling back to sampled power.
 */
export function nvmlCounter(): EnergyCounter | string {
  const query = () =>
    execFileSync('nvidia-smi', ['--query-gpu=total_energy_consumption', '--format=csv,noheader,nounits', '-i', '0'], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  let first: string;
  try {
    first = query();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') return 'no NVIDIA GPU energy counter: nvidia-smi is not installed';
    const said = `${e.stdout ?? ''} ${e.stderr ?? ''}`.trim().split('\n')[0];
    return `no NVIDIA GPU energy counter: nvidia-smi refused total_energy_consumption (${said || e.message})`;
  }
  if (!Number.isFinite(Number(first))) return `nvidia-smi reports no total energy for GPU 0 ('${first}')`;
  return {
    source: 'NVML total energy of GPU 0 (nvidia-smi), the whole GPU',
    read: () => [Number(query()) / 1e3],
    wrap: [Number.NaN],
  };
}

/** Runs `work` (which returns how many images it classified) between two readings of the counter. */
export function measureEnergy(counter: EnergyCounter | string, work: () => number): Measurement {
  const t0 = performance.now();
  if (typeof counter === 'string') {
    const images = work();
    return {
      joulesPerImage: null,
      joules: null,
      seconds: (performance.now() - t0) / 1000,
      images,
      source: null,
      note: `not measured: ${counter}`,
    };
  }
  const before = counter.read();
  const images = work();
  const after = counter.read();
  const seconds = (performance.now() - t0) / 1000;
  // A zone read lower after than before wrapped once (a run shorter than its range, minutes at full power).
  const deltas = after.map((a, i) => {
    const b = must(before[i], 'one reading per zone');
    return a >= b ? a - b : a + must(counter.wrap[i], 'one range per zone') - b;
  });
  const joules = deltas.reduce((x, d) => x + d, 0);
  if (!Number.isFinite(joules) || deltas.some((d) => d < 0))
    return {
      joulesPerImage: null,
      joules: null,
      seconds,
      images,
      source: counter.source,
      note: 'not measured: the counter went backwards and its range is unknown; run a shorter measurement',
    };
  return {
    joulesPerImage: images ? joules / images : null,
    joules,
    seconds,
    images,
    source: counter.source,
    note: `${joules.toFixed(2)} J over ${seconds.toFixed(1)} s for ${images} images (${counter.source})`,
  };
}
