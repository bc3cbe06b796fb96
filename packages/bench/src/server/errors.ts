/**
 * Errors of the OpenAI-compatible server, in OpenAI's JSON shape:
 * `{ "error": { "message", "type", "param", "code" } }`.
 */
import type { ZodError } from 'zod';

/** OpenAI error type names used by the server. */
export type ApiErrorType = 'invalid_request_error' | 'not_found_error' | 'server_error';

/** An error that maps to one HTTP status and OpenAI error body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: ApiErrorType = status >= 500 ? 'server_error' : status === 404 ? 'not_found_error' : 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** OpenAI's error JSON. */
  toJSON(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** Turns a zod validation failure into a 400 naming the first offending field(s). */
export function fromZodError(err: ZodError): ApiError {
  const parts = err.issues.slice(0, 3).map((i) => {
    const path = i.path.map(String).join('.');
    return path ? `${path}: ${i.message}` : i.message;
  });
  const first = err.issues[0];
  const param = first && first.path.length > 0 ? first.path.map(String).join('.') : null;
  return new ApiError(400, `invalid request: ${parts.join('; ')}`, 'invalid_request_error', param);
}
