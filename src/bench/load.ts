// The machine's load while a bench runs: benches print it before and after, so a busy machine explains a slow number.
import { loadavg } from 'node:os';
import { must } from '../util/must.js';

/** The one-minute load average. */
export const loadAverage = (): number => must(loadavg()[0], 'os.loadavg() gives three averages');
