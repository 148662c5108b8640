// The game's HTTP server (fastify): the page, the game API and POST /api/predict. Every error is JSON
// `{ "error": "..." }` with a 4xx status for bad requests. Images are served only per dealt round, from the dataset's
// display folder, so no request path ever reaches the file system. Limits against slow or hostile clients (issue #21):
// timeouts and a connection cap (http_limits.ts), capped and schema-checked JSON bodies (json_body.ts), uploads judged
// from their header and decoded with sharp's limits in a bounded queue, dataset files served only from inside the
// dataset (dataset_file.ts). Every 5xx is logged to stderr with the request id its answer carries.
import { explainSquare } from './explain_prediction.js';
import multipart, { type MultipartFile } from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../util/package_root.js';
import { ImageDecodeError } from '../data/images.js';
import { readDatasetFile } from './dataset_file.js';
import type { GameHall } from './game.js';
import { RefusedRequestError } from './refused_request.js';
import { checkOrigin, requireJson } from './guards.js';
import { clientError, type HttpLimits, limitedHttpServer } from './http_limits.js';
import { checkJsonDepth, guessBody, MAX_JSON_BYTES, parseBody, startBody } from './json_body.js';
import { escapeUnsafe } from './names.js';
import { PredictQueue } from './predict_queue.js';
import type { Predictor } from './predictor.js';
import { publicTable, readResults } from './results.js';
import { vendorFiles } from './vendor.js';
import { checkUploadHeader, UPLOAD_DECODE_LIMITS } from './upload_check.js';
import { must } from '../util/must.js';

/** Largest image POST /api/predict accepts. */
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

export interface ServerOptions {
  hall: GameHall;
  /** Models that answer POST /api/predict (usually the game's contestants). */
  predictors: Predictor[];
  maxUploadBytes?: number;
  /** fastify's request log; off by default. */
  logger?: boolean;
  /** Predictions running at once, and waiting beyond those (more get 503). */
  predictConcurrency?: number;
  predictQueue?: number;
  /** Timeouts and connection caps (defaults: DEFAULT_HTTP_LIMITS); tests lower them. */
  http?: Partial<HttpLimits>;
  /** Largest JSON body (default MAX_JSON_BYTES). */
  maxJsonBytes?: number;
}

const START_SHAPE = '{"rounds": N, "name": "..."}, both optional';
const GUESS_SHAPE = '{"guess": <class index>}';

// The page is plain HTML/CSS/JS kept in src/serve/public and read from there at start-up (found from the package
// root, above the compiled server in dist/), so changing it needs no build step.
const PAGE_FILES: Record<string, string> = {
  '/': 'index.html',
  '/app.js': 'app.js',
  '/style.css': 'style.css',
  '/map.js': 'map.js',
  '/ui.js': 'ui.js',
  '/explain.js': 'explain.js',
  '/results': 'results.html',
  '/results.js': 'results.js',
};
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export function publicDir(): string {
  return path.join(packageRoot(), 'src', 'serve', 'public');
}

/** The game's server, not yet listening: its body parsers, error shape, the page and the API. */
export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const limits: BodyLimits = {
    maxUpload: opts.maxUploadBytes ?? MAX_UPLOAD_BYTES,
    maxJson: opts.maxJsonBytes ?? MAX_JSON_BYTES,
  };
  const app = createApp(opts, limits.maxJson);
  await registerBodyParsers(app, limits);
  app.setErrorHandler(errorHandler(limits));
  app.addHook('onRequest', checkOrigin);
  const queue = new PredictQueue(opts.predictConcurrency, opts.predictQueue);
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: `no such resource: ${req.method} ${req.url.split('?')[0]}` });
  });
  servePage(app);
  gameRoutes(app, opts.hall);
  explainRoute(app, opts.hall, opts.predictors, queue);
  resultsRoute(app, opts.hall);
  predictRoute(app, opts.predictors, queue);
  return app;
}

/** The largest bodies accepted: an image upload, and a JSON body. */
interface BodyLimits {
  maxUpload: number;
  maxJson: number;
}

const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store');

/** Fastify with the HTTP limits (http_limits.ts), request ids, and geospike's error shape for malformed URLs. */
function createApp(opts: ServerOptions, maxJson: number): FastifyInstance {
  return Fastify({
    logger: opts.logger ?? false,
    bodyLimit: maxJson,
    genReqId: () => randomBytes(6).toString('hex'),
    serverFactory: (handler) => limitedHttpServer(handler, opts.http),
    clientErrorHandler: clientError(opts.http),
    // A path that is not valid percent-encoding: geospike's error shape, not fastify's.
    frameworkErrors: (err, _req, res) => {
      const reply = res as unknown as FastifyReply;
      const [status, error] =
        err.code === 'FST_ERR_BAD_URL'
          ? [400, 'the request URL is malformed (bad percent-encoding); use the links the page gives']
          : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
            ? [414, 'a part of the request path is too long (at most 100 characters); use the links the page gives']
            : [400, 'the request is malformed'];
      void reply.status(status).header('cache-control', 'no-store').send({ error });
    },
  });
}

/** JSON bodies checked for depth before parsing; uploads as multipart forms or as a raw image/* body. */
async function registerBodyParsers(app: FastifyInstance, { maxUpload, maxJson }: BodyLimits): Promise<void> {
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: maxJson }, (req, body, done) => {
    try {
      checkJsonDepth(body as string);
    } catch (err) {
      done(err as Error, undefined);
      return;
    }
    defaultJson(req, body as string, done);
  });
  await app.register(multipart, { limits: { fileSize: maxUpload, files: 1, fields: 10, parts: 20 } });
  // `curl --data-binary @photo.jpg -H 'content-type: image/jpeg'` works too.
  app.addContentTypeParser(/^image\//, { parseAs: 'buffer', bodyLimit: maxUpload }, (_req, body, done) =>
    done(null, body),
  );
}

/**
 * Every error as `{ "error": "..." }` with its status: the game's own errors say what was wrong; a 5xx is logged to
 * stderr with the request id its answer carries, and the server's own failures are never described to the client, as
 * their messages hold paths and state.
 */
function errorHandler({ maxUpload, maxJson }: BodyLimits) {
  return (err: Error & { statusCode?: number }, req: FastifyRequest, reply: FastifyReply) => {
    const status =
      err instanceof RefusedRequestError ? err.status : err instanceof ImageDecodeError ? 415 : (err.statusCode ?? 500);
    const upload = req.url.split('?')[0] === '/api/predict';
    const message =
      status === 413 && !(err instanceof RefusedRequestError)
        ? upload
          ? `upload too large: the limit is ${maxUpload} bytes (${+(maxUpload / 1048576).toFixed(2)} MB)`
          : `the JSON body is too large: the limit is ${maxJson} bytes`
        : err instanceof ImageDecodeError
          ? 'the upload is not an image geospike can read (a damaged or truncated file?)'
          : err.message;
    if (status === 503) void reply.header('retry-after', '1');
    const own = status >= 500 && !(err instanceof RefusedRequestError);
    // Every 5xx goes to stderr with the id the answer carries; the server's own failures are never described to the
    // client, as their messages hold paths and state.
    if (status >= 500) {
      const what = own ? (err.stack ?? String(err)) : err.message;
      process.stderr.write(
        `geospike play: request ${req.id} ${req.method} ${escapeUnsafe(req.url.slice(0, 200))} -> ${status}: ${what}\n`,
      );
    }
    void reply
      .status(status)
      .header('cache-control', 'no-store')
      .send({
        error: own ? `internal error; the server log has the details (request ${req.id})` : message,
        ...(status >= 500 ? { request: req.id } : {}),
      });
  };
}

/** The page's files (read once, at start-up) and the vendored scripts it loads. */
function servePage(app: FastifyInstance): void {
  for (const [route, file] of Object.entries(PAGE_FILES)) {
    const body = readFileSync(path.join(publicDir(), file));
    const type = must(TYPES[path.extname(file) || '.html'], `a content type for ${file}`);
    app.get(route, (_req, reply) => reply.type(type).header('cache-control', 'no-cache').send(body));
  }
  for (const [route, { body, type }] of vendorFiles()) {
    app.get(route, (_req, reply) => reply.type(type).header('cache-control', 'public, max-age=86400').send(body));
  }
}

/** The game API: what the game is, starting a game, each round, its guess and images, and the summary. */
function gameRoutes(app: FastifyInstance, hall: GameHall): void {
  app.get('/api/info', async (_req, reply) => {
    noStore(reply);
    return {
      classes: hall.deck.classes,
      models: hall.contestants.map((c) => c.name),
      rounds: hall.opts.defaultRounds,
      images: hall.deck.cards.length,
      coordinates: hall.hasCoordinates,
      // Each class's centre (the same for every round, so it tells nothing about one), for the map's guess pins.
      centres: hall.deck.classes.map((c) => hall.deck.centres.get(c) ?? null),
    };
  });

  app.post('/api/games', { onRequest: requireJson }, async (req, reply) => {
    const body = parseBody(startBody, req.body === undefined ? {} : req.body, START_SHAPE);
    // The seed stays on the server (see game.ts): a client that knew it could replay the deal in a second game.
    const { seed: _seed, ...started } = hall.start({ rounds: body.rounds, name: body.name }, req.ip);
    noStore(reply).status(201);
    return started;
  });

  app.get<{ Params: { game: string } }>('/api/games/:game/round', async (req, reply) => {
    noStore(reply);
    return hall.round(req.params.game);
  });

  app.post<{ Params: { game: string; index: string } }>(
    '/api/games/:game/rounds/:index/guess',
    { onRequest: requireJson },
    async (req, reply) => {
      noStore(reply);
      const { guess } = parseBody(guessBody, req.body, GUESS_SHAPE);
      return hall.guess(req.params.game, roundIndex(req.params.index), guess);
    },
  );

  app.get<{ Params: { game: string; index: string } }>('/api/games/:game/rounds/:index/image', async (req, reply) => {
    const file = hall.imageFile(req.params.game, roundIndex(req.params.index));
    return reply
      .type('image/jpeg')
      .header('cache-control', 'private, max-age=3600')
      .send(await readDatasetFile(hall.deck.dir, file));
  });

  app.get<{ Params: { game: string; index: string } }>('/api/games/:game/rounds/:index/input', async (req, reply) => {
    const file = hall.inputFile(req.params.game, roundIndex(req.params.index));
    return reply
      .type('image/png')
      .header('cache-control', 'private, max-age=3600')
      .send(await readDatasetFile(hall.deck.dir, file));
  });

  app.get<{ Params: { game: string } }>('/api/games/:game/summary', async (req, reply) => {
    noStore(reply);
    return hall.summary(req.params.game);
  });
}

/**
 * The evidence map of model k's guess over the round's 32x32 input (src/eval/explain.ts), once the round is answered.
 */
function explainRoute(app: FastifyInstance, hall: GameHall, predictors: Predictor[], queue: PredictQueue): void {
  app.get<{ Params: { game: string; index: string; model: string } }>(
    '/api/games/:game/rounds/:index/explain/:model',
    async (req, reply) => {
      const file = hall.inputFile(req.params.game, roundIndex(req.params.index));
      const k = Number(req.params.model);
      const predictor = Number.isInteger(k) ? predictors[k] : undefined;
      if (!predictor)
        throw new RefusedRequestError(404, `no model ${req.params.model}; models are 0..${predictors.length - 1}`);
      const png = await queue.run(() => explainSquare(predictor, file));
      return reply.type('image/png').header('cache-control', 'private, max-age=3600').send(png);
    },
  );
}

/** The results table the page shows: only that, no dataset paths or player names (`geospike games` has those). */
function resultsRoute(app: FastifyInstance, hall: GameHall): void {
  app.get('/api/results', async (_req, reply) => {
    noStore(reply);
    const file = hall.opts.resultsFile;
    if (!file)
      throw new RefusedRequestError(404, 'this game keeps no results file (start geospike play with --results FILE)');
    const games = existsSync(file) ? (await readResults(file)).games : [];
    return { file: escapeUnsafe(path.basename(file)), table: games.length ? publicTable(games) : null };
  });
}

/** POST /api/predict: every model's guess for an uploaded photo, decoded with sharp's limits in the bounded queue. */
function predictRoute(app: FastifyInstance, predictors: Predictor[], queue: PredictQueue): void {
  app.post('/api/predict', async (req, reply) => {
    noStore(reply);
    const image = await uploadedImage(req);
    await checkUploadHeader(image);
    return queue.run(async () => {
      const predictions = [];
      for (const p of predictors) {
        const {
          class: cls,
          label,
          confidence,
          probabilities,
          logits,
        } = await p.predictImage(image, UPLOAD_DECODE_LIMITS);
        predictions.push({ model: p.name, class: cls, label, confidence, probabilities, logits });
      }
      return { predictions };
    });
  });
}

/** The uploaded image: a multipart form's file, or a raw image/* body; anything else, or an empty file, is refused. */
async function uploadedImage(req: FastifyRequest): Promise<Buffer> {
  let image: Buffer;
  if (req.isMultipart()) {
    image = await readFilePart(req);
  } else if (Buffer.isBuffer(req.body)) {
    image = req.body;
  } else {
    throw new RefusedRequestError(
      415,
      'send an image as multipart/form-data (a file field) or as the body with an image/* content type',
    );
  }
  if (image.length === 0) throw new RefusedRequestError(400, 'the uploaded file is empty');
  return image;
}

/** The form's file; a form that busboy cannot parse (no boundary, cut short) is the client's fault: 400. */
async function readFilePart(req: FastifyRequest): Promise<Buffer> {
  let part: MultipartFile | undefined;
  let image: Buffer;
  try {
    part = await req.file();
    if (!part)
      throw new RefusedRequestError(
        400,
        'the form holds no file; send the image in a file field (e.g. -F image=@photo.jpg)',
      );
    image = await part.toBuffer();
  } catch (err) {
    if (err instanceof RefusedRequestError || (err as { statusCode?: number }).statusCode === 413) throw err;
    throw new RefusedRequestError(
      400,
      'the multipart form is malformed (no boundary, or cut short); send a file field as curl -F does',
    );
  }
  // toBuffer() can miss a limit hit on the last chunk; busboy's truncated flag does not.
  if (part.file.truncated) throw Object.assign(new Error('upload too large'), { statusCode: 413 });
  return image;
}

/** Round numbers in paths: plain decimal digits, or the round is unknown. */
function roundIndex(s: string): number {
  if (!/^\d{1,6}$/.test(s)) throw new RefusedRequestError(404, `unknown round '${s}'; rounds are numbered from 0`);
  return Number(s);
}
