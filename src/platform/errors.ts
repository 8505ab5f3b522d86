// The catalogue of stable error codes. Clients and tests match on `code`, never on the message.
export const ErrorCodes = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  INVALID_CURSOR: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  AUTH_REQUIRED: 401,
  AUTH_TOKEN_INVALID: 401,
  AUTH_TOKEN_EXPIRED: 401,
  AUTH_INVALID_CREDENTIALS: 401,
  AUTH_ACCOUNT_LOCKED: 429,
  FORBIDDEN_ROLE: 403,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  USER_NOT_FOUND: 404,
  USER_EMAIL_TAKEN: 409,
  CAMPAIGN_NOT_FOUND: 404,
  CAMPAIGN_INVALID_TRANSITION: 409,
  CAMPAIGN_VARIANT_DUPLICATE: 400,
  CAMPAIGN_NOT_EDITABLE: 409,
  CUSTOMER_NOT_FOUND: 404,
  CUSTOMER_EXTERNAL_ID_TAKEN: 409,
  MERCHANT_NOT_FOUND: 404,
  NOTIFICATION_NOT_FOUND: 404,
  NOTIFICATION_ADDRESS_INVALID: 400,
  NOTIFICATION_TARGET_FORBIDDEN: 400,
  NOTIFICATION_SEND_NOT_FOUND: 404,
  NOTIFICATION_SEND_STATE: 409,
  NOTIFICATION_AUDIENCE_EMPTY: 422,
  NOTIFICATION_CHANNEL_UNSUPPORTED: 422,
  NOTIFICATION_PAYLOAD_TOO_LARGE: 413,
  MAILBOX_MESSAGE_NOT_FOUND: 404,
  BATCH_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INCIDENT_NOT_FOUND: 404,
  INCIDENT_STATE: 409,
  SERVICE_UNAVAILABLE: 503,
  FAULT_INJECTED: 503,
  ROUTER_NO_BACKEND: 503,
  ROUTER_UPSTREAM_FAILED: 502,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.statusCode = ErrorCodes[code];
    this.details = options.details;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/** PostgreSQL error codes the services translate into AppErrors. */
export const PgErrors = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
} as const;

export function pgErrorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String((error as { code: unknown }).code)
    : undefined;
}
