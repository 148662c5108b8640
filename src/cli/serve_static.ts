// `geospike serve-static SITE`: serve an exported game (or any folder) as a plain static host would.
import { defineCommand } from 'citty';
import { intOption } from './args.js';
import { serveStatic } from '../static/serve.js';

export default defineCommand({
  meta: { name: 'serve-static', description: 'Serve a folder written by export-game as plain static files' },
  args: {
    site: { type: 'positional', required: true, description: 'The folder export-game wrote' },
    port: { type: 'string', default: '8080', description: 'Port to listen on (0 picks a free one)' },
    host: {
      type: 'string',
      default: '127.0.0.1',
      description: 'Address to listen on; loopback unless you mean to share',
    },
  },
  async run({ args }) {
    const port = intOption('--port', args.port, 0)!;
    if (port > 65535) throw new Error(`--port must be at most 65535, got ${port}`);
    const server = await serveStatic(args.site, { host: args.host, port });
    console.error(`geospike serve-static: open ${server.url}  (Ctrl-C stops)`);
    const stop = async () => {
      await server.close();
      process.exit(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  },
});
