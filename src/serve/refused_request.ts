// The error a handler throws to refuse a request: the server answers with its HTTP status and message.

/** A request geospike's server refuses; `status` is the HTTP status it answers with (4xx, or 503 when busy). */
export class RefusedRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'RefusedRequestError';
  }
}
