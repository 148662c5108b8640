// Interleaved benchmark rounds against the PyTorch peer: geospike, PyTorch, geospike, PyTorch, ... each round a
// fresh process, so slow drifts of a shared machine land on both sides alike; the report quotes the median ratio
// of paired rounds and its range, and keeps every round.
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { loadAverage } from './load.js';
import { fileURLToPath } from 'node:url';
import { median } from './model.js';
import { must } from '../util/must.js';

export const PYTHON = '/usr/bin/python3';
export const PEER_SETUP = 'apt-get install python3-torch libopenblas0-pthread';
const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/**
 * The peer's environment: ours, less the BLAS kernel pins some machines set (OPENBLAS_CORETYPE=Haswell is a safety
 * default for old OpenBLAS builds), so OpenBLAS picks its best kernel for this CPU itself; same OpenMP settings.
 */
export function peerEnv(env: NodeJS.ProcessEnv, threads: number): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env, OMP_NUM_THREADS: `${threads}` };
  delete out.OPENBLAS_CORETYPE;
  delete out.OPENBLAS_L2_SIZE;
  return out;
}

/** One round: the seconds it measured (per batch or per epoch), its load average, and everything it reported. */
export interface Round {
  runner: 'geospike' | 'pytorch';
  round: number;
  seconds: number;
  /** 1-minute load average before and after the round. */
  load: [number, number];
  result: Record<string, unknown>;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface RoundsReport {
  machine: { cpu: string; cores: number };
  peer: { version: string; blasCore: string; sgemmGflops: number | null };
  rounds: Round[];
  geospike: Spread;
  pytorch: Spread;
  /** geospike seconds / PyTorch seconds of each round pair. */
  ratio: Spread;
}

export const spread = (xs: number[]): Spread => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });

/** Runs `rounds` pairs, ours first in each; `seconds` reads a round's figure from what its process printed. */
export function interleave(
  rounds: number,
  ours: () => Record<string, unknown>,
  peer: () => Record<string, unknown>,
  seconds: (runner: Round['runner'], result: Record<string, unknown>) => number,
  onRound: (r: Round) => void = () => {},
): RoundsReport {
  const all: Round[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const [runner, run] of [
      ['geospike', ours],
      ['pytorch', peer],
    ] as const) {
      const load0 = loadAverage();
      const result = run();
      const r: Round = { runner, round, seconds: seconds(runner, result), load: [load0, loadAverage()], result };
      all.push(r);
      onRound(r);
    }
  }
  const side = (runner: Round['runner']) => all.filter((r) => r.runner === runner).map((r) => r.seconds);
  const [g, p] = [side('geospike'), side('pytorch')];
  const last = all.filter((r) => r.runner === 'pytorch').at(-1)!.result;
  const sgemm = Number(last.sgemm_gflops);
  return {
    machine: { cpu: cpus()[0]?.model.trim() ?? 'unknown', cores: cpus().length },
    peer: {
      version: String(last.peer ?? 'unknown'),
      blasCore: typeof last.blas_core === 'string' && last.blas_core ? last.blas_core : 'unknown',
      sgemmGflops: Number.isFinite(sgemm) && last.sgemm_gflops !== undefined ? sgemm : null,
    },
    rounds: all,
    geospike: spread(g),
    pytorch: spread(p),
    ratio: spread(g.map((s, i) => s / must(p[i], 'the rounds alternate, one of each'))),
  };
}

/** Runs `geospike <args>` in a fresh Node process and parses the JSON it prints. */
export function runOurs(args: string[], env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const run = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env, maxBuffer: 1 << 26 });
  if (run.status !== 0)
    throw new Error(`a geospike round failed (geospike ${args.join(' ')}): ${lastLine(run.stderr)}`);
  try {
    return JSON.parse(run.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`a geospike round printed no JSON: ${run.stdout.slice(0, 200)}`);
  }
}

/** Runs the peer script in a fresh process and parses its last line of JSON. */
export function runPeer(
  python: string,
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Record<string, unknown> {
  const run = spawnSync(python, [script, ...args], { encoding: 'utf8', env, maxBuffer: 1 << 26 });
  if (run.error)
    throw new Error(`cannot run the PyTorch peer with ${python}: ${run.error.message}; install it: ${PEER_SETUP}`);
  if (run.status !== 0) {
    const why = lastLine(run.stderr);
    if (/No module named '(torch|numpy)'/.test(why))
      throw new Error(`PyTorch is not installed for ${python}: ${PEER_SETUP}`);
    throw new Error(`the PyTorch peer failed (${python} ${script} ${args.join(' ')}): ${why}`);
  }
  const line = run.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`the PyTorch peer printed no JSON result: ${line.slice(0, 200)}`);
  }
}

const lastLine = (text: string | null) => (text || '').trim().split('\n').pop() ?? '';

const fmt = (s: Spread, digits: number) =>
  `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;

/** The human summary: each side's median and range, the ratio's, the peer's BLAS, the machine and its load. */
export function describeRounds(r: RoundsReport, unit: string): string[] {
  const loads = r.rounds.flatMap((x) => x.load);
  const n = r.rounds.length / 2;
  return [
    `  geospike            ${fmt(r.geospike, 3)} ${unit}`,
    `  ${r.peer.version.padEnd(19)} ${fmt(r.pytorch, 3)} ${unit}   (BLAS kernel ${r.peer.blasCore}, ` +
      `sgemm ${r.peer.sgemmGflops === null ? 'unknown' : `${r.peer.sgemmGflops} GFLOP/s`})`,
    `  geospike/PyTorch: ${fmt(r.ratio, 2)}   median (range) of ${n} interleaved rounds each`,
    `  machine: ${r.machine.cpu}, ${r.machine.cores} cores; load ` +
      `average ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}`,
  ];
}
