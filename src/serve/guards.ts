// Requests a web page on another origin must not be able to make: the game server binds loopback by default, but any
// page the player opens can still send requests to it. Three checks run before every route:
// - Host must name the address the connection came in on (or localhost / this machine's name on that port). A DNS
//   rebinding page reaches us under its own domain name, so its Host gives it away.
// - Origin, when the browser sends one, must be this server's own (http://<Host>); Sec-Fetch-Site must not be
//   cross-site. Requests without either (curl, scripts) are not from a browser page and pass.
// - Bodies of the JSON routes must be application/json: a cross-site HTML form can send urlencoded, multipart or
//   text/plain without a preflight, never JSON.
import { hostname } from 'node:os';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RefusedRequestError } from './refused_request.js';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** Host names (without port) accepted on a connection that came in on `localAddress`. */
function acceptedHosts(localAddress: string | undefined): Set<string> {
  const names = new Set(LOOPBACK);
  if (localAddress) {
    const bare = localAddress.replace(/^::ffff:/, '');
    names.add(bare.includes(':') ? `[${bare}]` : bare);
    const isLoopback = bare === '127.0.0.1' || bare === '::1';
    if (!isLoopback) for (const n of [hostname(), `${hostname()}.local`]) names.add(n.toLowerCase());
  }
  return names;
}

function splitHost(host: string): { name: string; port: string } {
  const [, name, port] = /^(\[[0-9a-f:.]+\]|[^:]+)(?::(\d{1,5}))?$/i.exec(host) ?? [];
  return name !== undefined ? { name: name.toLowerCase(), port: port ?? '80' } : { name: '', port: '' };
}

export async function checkOrigin(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
  const host = req.headers.host ?? '';
  const { name, port } = splitHost(host);
  const local = req.socket?.localAddress;
  const localPort = req.socket?.localPort;
  if (!acceptedHosts(local).has(name) || (localPort !== undefined && Number(port) !== localPort)) {
    throw new RefusedRequestError(
      421,
      'this server answers only at the address it listens on (the Host header names another); open it by its address',
    );
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${host}`) {
    throw new RefusedRequestError(403, 'cross-origin request refused: the game API answers only its own page');
  }
  if (req.headers['sec-fetch-site'] === 'cross-site') {
    throw new RefusedRequestError(403, 'cross-site request refused: the game API answers only its own page');
  }
}

/** For JSON routes: a body, when there is one, must be application/json. */
export async function requireJson(req: FastifyRequest): Promise<void> {
  const [mediaType = ''] = (req.headers['content-type'] ?? '').split(';'); // split gives at least one part
  const type = mediaType.trim().toLowerCase();
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if ((hasBody || type !== '') && type !== 'application/json') {
    throw new RefusedRequestError(415, 'send the body as JSON (content-type: application/json)');
  }
}
