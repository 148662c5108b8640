// `geospike collect`: build a city dataset from Street View or Mapillary, resumable, with a printed cost plan and a
// request cap. Keys come only from the environment and are scrubbed from everything printed.
import { createInterface } from 'node:readline/promises';
import { defineCommand } from 'citty';
import { BUILTIN_REGIONS, loadRegions, selectRegions } from '../data/cities.js';
import { collect, remaining, type SplitMode } from '../data/collect.js';
import { intOption, numberOption } from './args.js';
import { must } from '../util/must.js';
import { stopOnSignal } from '../util/stop_on_signal.js';
import { Budget, checkEndpoint, DEFAULT_HTTP, defaultMaxRequests, Http } from '../data/providers/http.js';
import { MAPILLARY_ENDPOINT, MapillaryProvider } from '../data/providers/mapillary.js';
import { credentialsFrom, type Provider } from '../data/providers/provider.js';
import { STREETVIEW_ENDPOINT, STREETVIEW_PRICE_PER_1000, StreetViewProvider } from '../data/providers/streetview.js';

/** Replaces every secret in `text` with its variable's name. */
export function redact(text: string, secrets: [string, string][]): string {
  let out = text;
  for (const [name, value] of secrets) if (value.length >= 4) out = out.split(value).join(`<${name}>`);
  return out;
}

const dollars = (n: number) => `$${n.toFixed(2)}`;
const DEFAULT_ENDPOINTS = `${STREETVIEW_ENDPOINT} or ${MAPILLARY_ENDPOINT}`;

/** Asks on the terminal; true only for an answer starting with y. */
async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export default defineCommand({
  meta: {
    name: 'collect',
    description: 'Collect a city dataset from Street View or Mapillary (resumable; prints the cost first)',
  },
  args: {
    provider: {
      type: 'enum',
      options: ['streetview', 'mapillary'],
      default: 'streetview',
      description: 'Imagery source',
    },
    cities: {
      type: 'string',
      default: 'seoul,tokyo,newyork,london,paris',
      description: 'Classes, in label order: built-in cities or names in --regions',
    },
    'per-city': { type: 'string', required: true, description: 'Images per city (train + validation)' },
    out: { type: 'string', required: true, description: 'Dataset folder (an existing one is continued)' },
    regions: {
      type: 'string',
      description:
        'GeoJSON FeatureCollection, one (Multi)Polygon per class with a "name" property; replaces the built-in regions',
    },
    'fetch-size': {
      type: 'string',
      default: '128',
      description: 'Side of the fetched square image (the display copy) in pixels',
    },
    'crop-bottom': {
      type: 'string',
      description:
        'Rows cut from the bottom (the watermark); default 20 for streetview (fetched on top of --fetch-size), 0 for ' +
        'mapillary',
    },
    split: {
      type: 'enum',
      options: ['spatial', 'index'],
      default: 'spatial',
      description:
        'spatial: train and validation panoramas at least 1 km apart; index: first images train, last validate (the ' +
        'original study)',
    },
    'val-fraction': { type: 'string', default: '0.2', description: 'Share of each city for validation' },
    concurrency: { type: 'string', default: '4', description: 'Requests in flight at once (per phase)' },
    qps: { type: 'string', default: '10', description: 'Most requests per second; halves on quota errors' },
    'max-requests': {
      type: 'string',
      description: 'Most billed image requests (retries included); default: the plan plus 10%, at least 20 more',
    },
    seed: { type: 'string', default: '0', description: 'Seed of the sampled points, headings and spatial split' },
    radius: { type: 'string', default: '50', description: 'Search radius around each sampled point in metres' },
    endpoint: {
      type: 'string',
      description: `API base URL (default ${DEFAULT_ENDPOINTS}); https, or http to localhost`,
    },
    yes: {
      type: 'boolean',
      default: false,
      description: 'Agree to the printed cost without being asked (needed where there is no terminal to ask)',
    },
    'dry-run': {
      type: 'boolean',
      default: false,
      description: 'Metadata phase only: find sources, fetch and write nothing',
    },
    'timeout-ms': {
      type: 'string',
      default: String(DEFAULT_HTTP.timeoutMs),
      description: 'Timeout of one request attempt',
    },
    retries: {
      type: 'string',
      default: String(DEFAULT_HTTP.retries),
      description: 'Retries of 5xx, timeouts and resets',
    },
    'backoff-ms': {
      type: 'string',
      default: String(DEFAULT_HTTP.backoffMs),
      description: 'First retry delay (doubles each retry, with jitter)',
    },
  },
  async run({ args }) {
    const secrets: [string, string][] = [];
    const say = (line: string) => console.error(redact(line, secrets));
    try {
      const plan = collectPlan(args);
      const ac = new AbortController();
      const http = new Http({ ...plan.http, quotaStrikes: DEFAULT_HTTP.quotaStrikes, signal: ac.signal, log: say });
      const todo = await remaining(args.out, plan.regions, plan.perCity);
      const needed = Object.values(todo).reduce((a, b) => a + b, 0);
      const budget = new Budget(plan.maxRequests ?? defaultMaxRequests(needed));
      const provider = makeProvider(plan, args.endpoint, { http, budget }, secrets);
      printPlan(plan, provider, todo, budget.max, args['dry-run'], say);
      if (needed === 0) return say('nothing to do: every city already has its images');
      if (!(await agreedToCost(provider.pricePerImage, budget.max, args)))
        return say('nothing spent: the answer was not yes');

      // SIGINT (Ctrl-C) and SIGTERM (kill, a service manager) both stop the run cleanly, so the images written stay
      // listed and the folder's lock is released; a second signal quits at once.
      const stop = stopOnSignal(say, {
        doing: 'stopping: aborting the requests in flight, keeping every image already downloaded',
        onStop: () => ac.abort(),
      });
      const res = await collect({
        provider,
        regions: plan.regions,
        perCity: plan.perCity,
        out: args.out,
        split: args.split as SplitMode,
        valFraction: plan.valFraction,
        seed: plan.seed,
        concurrency: plan.concurrency,
        dryRun: args['dry-run'],
        signal: ac.signal,
        log: say,
      });
      const price = provider.pricePerImage;
      say(
        `${args['dry-run'] ? 'dry run: found' : 'collected'} ${res.added} images (${res.skipped} skipped); ` +
          `${http.stats.requests} requests, ${budget.used} billed${price ? ` (${dollars(budget.used * price)})` : ''}`,
      );
      for (const [c, p] of Object.entries(res.classes)) say(`  ${c}: train ${p.train}, validation ${p.validation}`);
      if (res.stopped) {
        say(`stopped early: ${res.stopped}`);
        process.exitCode = res.stopped !== 'interrupted' ? 3 : (stop.exitCode ?? 130);
      }
    } catch (err) {
      say(`error: ${(err as Error).message}`);
      process.exitCode = 1;
    }
  },
});

type CollectArgs = Record<'provider' | 'cities' | 'per-city' | 'fetch-size' | 'val-fraction' | 'concurrency', string> &
  Record<'qps' | 'seed' | 'radius' | 'timeout-ms' | 'retries' | 'backoff-ms', string> &
  Partial<Record<'regions' | 'crop-bottom' | 'max-requests', string>>;

/** The collection's settings from its flags, every number checked before a request is made. */
interface CollectPlan {
  provider: 'streetview' | 'mapillary';
  regions: ReturnType<typeof selectRegions>;
  perCity: number;
  valFraction: number;
  concurrency: number;
  fetchSize: number;
  cropBottom: number;
  radius: number;
  seed: number;
  /** --max-requests, or undefined for the plan's default (known once the images still needed are counted). */
  maxRequests: number | undefined;
  http: { qps: number; timeoutMs: number; retries: number; backoffMs: number };
}

function collectPlan(args: CollectArgs): CollectPlan {
  const provider = args.provider as CollectPlan['provider'];
  const given = (flag: string, v: number | undefined) => must(v, `${flag} has a default or is required`);
  const perCity = given('--per-city', intOption('--per-city', args['per-city'], 1));
  const valFraction = given('--val-fraction', numberOption('--val-fraction', args['val-fraction'], 0, 1));
  const concurrency = given('--concurrency', intOption('--concurrency', args.concurrency, 1));
  const fetchSize = given('--fetch-size', intOption('--fetch-size', args['fetch-size'], 32));
  const cropBottom = intOption('--crop-bottom', args['crop-bottom']) ?? (provider === 'streetview' ? 20 : 0);
  const available = args.regions ? loadRegions(args.regions) : BUILTIN_REGIONS;
  const cities = args.cities
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const regions = selectRegions(available, cities);
  const http = {
    qps: given('--qps', numberOption('--qps', args.qps, 0.001, Infinity)),
    timeoutMs: given('--timeout-ms', intOption('--timeout-ms', args['timeout-ms'], 1)),
    retries: given('--retries', intOption('--retries', args.retries)),
    backoffMs: given('--backoff-ms', intOption('--backoff-ms', args['backoff-ms'])),
  };
  const radius = given('--radius', intOption('--radius', args.radius, 1));
  const maxRequests = intOption('--max-requests', args['max-requests']);
  const seed = given('--seed', intOption('--seed', args.seed));
  return {
    provider,
    regions,
    perCity,
    valFraction,
    concurrency,
    fetchSize,
    cropBottom,
    radius,
    seed,
    maxRequests,
    http,
  };
}

/**
 * The imagery source, its keys or tokens from the environment (added to `secrets`, so every line printed hides them).
 */
function makeProvider(
  plan: CollectPlan,
  endpoint: string | undefined,
  limits: { http: Http; budget: Budget },
  secrets: [string, string][],
): Provider {
  const common = { fetchSize: plan.fetchSize, cropBottom: plan.cropBottom, radius: plan.radius, ...limits };
  if (plan.provider === 'streetview') {
    const keys = credentialsFrom(
      process.env,
      'GOOGLE_MAPS_API_KEY',
      'export your Street View Static API key (a comma-separated list rotates keys)',
    );
    const signing = (process.env.GOOGLE_MAPS_URL_SIGNING_SECRET ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const k of keys) secrets.push(['GOOGLE_MAPS_API_KEY', k]);
    for (const s of signing) secrets.push(['GOOGLE_MAPS_URL_SIGNING_SECRET', s]);
    return new StreetViewProvider({
      keys,
      secrets: signing,
      endpoint: checkEndpoint(endpoint ?? STREETVIEW_ENDPOINT, '--endpoint'),
      ...common,
    });
  }
  const tokens = credentialsFrom(
    process.env,
    'MAPILLARY_ACCESS_TOKEN',
    'export a Mapillary client access token (a comma-separated list rotates tokens)',
  );
  for (const t of tokens) secrets.push(['MAPILLARY_ACCESS_TOKEN', t]);
  return new MapillaryProvider({
    tokens,
    endpoint: checkEndpoint(endpoint ?? MAPILLARY_ENDPOINT, '--endpoint'),
    ...common,
  });
}

/** The cost plan: images wanted and still needed per city, requests and what they cost, where it stops. */
function printPlan(
  plan: CollectPlan,
  provider: Provider,
  todo: Record<string, number>,
  maxRequests: number,
  dryRun: boolean,
  say: (line: string) => void,
): void {
  const price = provider.pricePerImage;
  const needed = Object.values(todo).reduce((a, b) => a + b, 0);
  const { regions, perCity } = plan;
  say(
    `plan: ${provider.name}, ${regions.length} cities x ${perCity} = ${regions.length * perCity} images, ${needed} ` +
      `still needed ` +
      `(${Object.entries(todo)
        .map(([c, n]) => `${c} ${n}`)
        .join(', ')})`,
  );
  say(
    dryRun
      ? `  dry run: metadata requests only (free); no image is fetched or written`
      : `  image requests: ${needed} (${
          price ? `${dollars(needed * price)} at $${STREETVIEW_PRICE_PER_1000} per 1,000` : 'free'
        }); ` +
          `metadata requests: at least ${needed} (free; more where imagery is sparse); ` +
          `stops at --max-requests ${maxRequests} image requests${price ? ` (${dollars(maxRequests * price)})` : ''}`,
  );
}

/** True unless the run costs money and nobody agreed: --yes, or a yes on the terminal (no terminal: an error). */
async function agreedToCost(price: number, maxRequests: number, args: { 'dry-run': boolean; yes: boolean }) {
  if (!(price > 0) || args['dry-run'] || args.yes) return true;
  const cost = `up to ${dollars(maxRequests * price)} (${maxRequests} billed image requests)`;
  if (!process.stdin.isTTY)
    throw new Error(
      `collect would spend ${cost} and there is no terminal to ask: pass --yes to agree, or --dry-run to look first`,
    );
  return confirm(`spend ${cost}? [y/N] `);
}
