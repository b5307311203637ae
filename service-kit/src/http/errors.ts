/**
 * Every error the API can answer with: a stable code (clients branch on it), the HTTP status and a
 * default message that says what to do. Codes are part of the API contract that the extracted
 * services must reproduce, so they never change meaning; README.md documents each one.
 */
export const ERRORS = {
  validation_failed: { status: 400, message: 'Some fields are invalid; see `fields` for what to fix.' },
  malformed_json: { status: 400, message: 'The request body is not valid JSON.' },
  invalid_idempotency_key: { status: 400, message: 'Send one Idempotency-Key header of 1 to 255 visible ASCII characters.' },
  unauthenticated: { status: 401, message: 'Log in to do this.' },
  invalid_credentials: { status: 401, message: 'The email or password is wrong.' },
  forbidden: { status: 403, message: 'Your account is not allowed to do this.' },
  not_found: { status: 404, message: 'Nothing exists at this address.' },
  listing_not_found: { status: 404, message: 'No such listing.' },
  supplier_not_found: { status: 404, message: 'No such supplier.' },
  order_not_found: { status: 404, message: 'No such order.' },
  email_taken: { status: 409, message: 'An account with this email already exists; log in instead.' },
  supplier_exists: { status: 409, message: 'This account already has a supplier profile.' },
  insufficient_stock: { status: 409, message: 'Not enough stock left for this quantity.' },
  listing_archived: { status: 409, message: 'This listing is archived and cannot be changed or ordered.' },
  order_not_cancellable: { status: 409, message: 'Only placed or confirmed orders can be cancelled.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'Send the request body as application/json.' },
  idempotency_key_reused: { status: 422, message: 'This Idempotency-Key was already used with a different request body.' },
  too_many_attempts: { status: 429, message: 'Too many failed logins; try again once the Retry-After delay (in seconds) has passed.' },
  internal_error: { status: 500, message: 'Something went wrong on our side; try again.' },
  service_unavailable: { status: 503, message: 'A service this request needs is briefly unavailable; retry after the Retry-After delay.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Per-field messages, keyed by the field's path (`items.0.quantityKg`). */
export type FieldErrors = Record<string, string>;

/** An error meant for the client: `code` picks status and default message from ERRORS. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly fields: FieldErrors | undefined;
  /** Sent as Retry-After: when the client may try again, in seconds. */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, opts: { message?: string; fields?: FieldErrors; cause?: unknown; retryAfterSeconds?: number } = {}) {
    super(opts.message ?? ERRORS[code].message, { cause: opts.cause });
    this.code = code;
    this.status = ERRORS[code].status;
    this.fields = opts.fields;
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }

  /** The one error shape of the API: `{"error":{"code","message","fields?"}}`. */
  toBody(): { error: { code: ErrorCode; message: string; fields?: FieldErrors } } {
    return { error: { code: this.code, message: this.message, ...(this.fields ? { fields: this.fields } : {}) } };
  }
}
