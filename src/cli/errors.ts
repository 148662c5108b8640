// What a failed command says: one sentence for people. Node's system errors (ENOENT, EISDIR, EADDRINUSE ...) reach
// here raw or quoted inside a geospike message ("... sidecar: ENOENT: no such file or directory, open 'x'"); both
// become plain words naming the path or port and what to do.

interface SystemError extends Error {
  code?: string;
  syscall?: string;
  path?: string;
  address?: string;
  port?: number;
}

/** Plain words for one system error code about `path`, or undefined for a code without a better sentence. */
function plainSystemError(code: string, path: string, syscall: string): string | undefined {
  switch (code) {
    case 'ENOENT':
      return `${path} does not exist (check the path)`;
    case 'EISDIR':
      return `${path} is a folder where a file was expected (name the file inside it)`;
    case 'ENOTDIR':
      return `${path} is not a folder (part of the path is a file)`;
    case 'EACCES':
    case 'EPERM':
      return `no permission to ${syscall === 'open' ? 'open' : syscall} ${path} (check its owner and mode)`;
    case 'ENOSPC':
      return `the disk holding ${path} is full (free some space and run the command again)`;
    case 'EEXIST':
      return `${path} already exists`;
    default:
      return undefined;
  }
}

// Node's own text for a system error: "ENOENT: no such file or directory, open '/x/y.json'".
const SYSTEM_TEXT = /\b(E[A-Z]+): [^,'\n]+, (\w+) '([^']+)'(?: -> '[^']+')?/g;

// The same without a path (a read of an open file): "EISDIR: illegal operation on a directory, read".
const PATHLESS_TEXT = /\b(E[A-Z]+): [^,'\n]+, \w+$/gm;
const PATHLESS: Record<string, string> = {
  EISDIR: 'it is a folder where a file was expected (name the file inside it)',
  ENOENT: 'it does not exist (check the path)',
  EACCES: 'no permission to read it (check its owner and mode)',
};

/** The one-sentence message a command prints for `err` (no stack; GEOSPIKE_DEBUG=1 prints the stack instead). */
export function explainError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as SystemError;
  if (e.code === 'EADDRINUSE' || e.code === 'EADDRNOTAVAIL' || (e.code === 'EACCES' && e.syscall === 'listen')) {
    const where = e.port !== undefined ? `port ${e.port}${e.address ? ` on ${e.address}` : ''}` : 'the address';
    if (e.code === 'EADDRINUSE') {
      const fix = 'stop the program using it, or pass another --port (--port 0 picks a free one)';
      return `${where} is already in use: ${fix}`;
    }
    if (e.code === 'EACCES')
      return `no permission to listen on ${where}: ports below 1024 need root; pass --port 8080 or higher`;
    return (
      `cannot listen on ${where}: that address is not on this machine; pass --host 127.0.0.1 or one of its ` +
      `addresses`
    );
  }
  if (e.code && e.path && e.message.startsWith(`${e.code}:`)) {
    const plain = plainSystemError(e.code, e.path, e.syscall ?? 'open');
    if (plain) return plain;
  }
  return e.message
    .replace(SYSTEM_TEXT, (whole, code: string, syscall: string, path: string) => {
      return plainSystemError(code, path, syscall) ?? whole;
    })
    .replace(PATHLESS_TEXT, (whole, code: string) => PATHLESS[code] ?? whole);
}
