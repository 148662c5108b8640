// `geospike serve-static SITE`: serve an exported game (or any folder) as a plain static host would.
import { defineCommand } from 'citty';
import { hostArg, portArg, portOption } from './args.js';
import { serveStatic } from '../static/serve.js';
import { stopOnSignal } from '../util/stop_on_signal.js';

export default defineCommand({
  meta: { name: 'serve-static', description: 'Serve a folder written by export-game as plain static files' },
  args: {
    site: { type: 'positional', required: true, description: 'The folder export-game wrote' },
    port: portArg,
    host: hostArg,
  },
  async run({ args }) {
    const port = portOption(args.port);
    const server = await serveStatic(args.site, { host: args.host, port });
    const say = (line: string) => console.error(`geospike serve-static: ${line}`);
    say(`open ${server.url}  (Ctrl-C stops)`);
    // A signal is how a server ends: it closes, then exits 0.
    stopOnSignal(say, { doing: 'closing the server', onStop: () => void server.close().then(() => process.exit(0)) });
  },
});
