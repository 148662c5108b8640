// How long the game server waits for a client and how many it holds (issue #21): without these, 600 sockets that
// never finish their headers, or 40 bodies trickled in a byte at a time, stay open for minutes and hold memory. Node's
// HTTP server enforces them; each can be lowered for tests.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export interface HttpLimits {
  /** A connection that has not sent a request's headers within this is closed (ms). */
  headersTimeoutMs: number;
  /** A request whose body has not fully arrived within this (from its start) is answered 408 and closed (ms). */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this (ms). */
  keepAliveTimeoutMs: number;
  /** How often the two timeouts above are checked (ms): a slow socket lives at most this much longer. */
  checkIntervalMs: number;
  /** Open connections at once; further ones are closed as they arrive. */
  maxConnections: number;
  /** Requests served on one keep-alive connection before it is closed. */
  maxRequestsPerSocket: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  checkIntervalMs: 2_000,
  maxConnections: 1_000,
  maxRequestsPerSocket: 1_000,
};

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Node's HTTP server with `limits` applied, for fastify's serverFactory. */
export function limitedHttpServer(handler: Handler, limits: Partial<HttpLimits> = {}): Server {
  const l = { ...DEFAULT_HTTP_LIMITS, ...limits };
  if (!(l.headersTimeoutMs <= l.requestTimeoutMs))
    throw new Error(`the headers timeout (${l.headersTimeoutMs} ms) must not exceed the request timeout`);
  const server = createServer(
    {
      headersTimeout: l.headersTimeoutMs,
      requestTimeout: l.requestTimeoutMs,
      keepAliveTimeout: l.keepAliveTimeoutMs,
      connectionsCheckingInterval: l.checkIntervalMs,
    },
    handler,
  );
  server.maxConnections = l.maxConnections;
  server.maxRequestsPerSocket = l.maxRequestsPerSocket;
  // A socket silent this long (no bytes either way) is dropped too, whatever state it is in.
  server.setTimeout(l.requestTimeoutMs);
  return server;
}

/**
 * fastify's clientErrorHandler: what a connection gets when Node gives up on it before any route runs (a timeout,
 * headers too large, bytes that are not HTTP), in geospike's error shape, then the socket is closed.
 */
export function clientError(limits: Partial<HttpLimits> = {}) {
  const l = { ...DEFAULT_HTTP_LIMITS, ...limits };
  return (err: Error & { code?: string }, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, text, message] =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [
            408,
            'Request Timeout',
            `the request took too long to arrive (headers within ${l.headersTimeoutMs / 1000} s, the whole request ` +
              `within ${l.requestTimeoutMs / 1000} s); send it again`,
          ]
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large', "the request's headers are too large"]
          : [400, 'Bad Request', 'the request is not well-formed HTTP'];
    const body = JSON.stringify({ error: message });
    if (socket.writable)
      socket.write(
        `HTTP/1.1 ${status} ${text}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: ` +
          `application/json\r\n` +
          `Connection: close\r\n\r\n${body}`,
      );
    socket.destroy(err);
  };
}
