import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorCode, ErrorCodes, isAppError } from './errors.ts';

type FieldError = { path: string; message: string };

/** What an error becomes before it is sent as RFC 9457 problem details. */
export type ProblemInput = {
  status: number;
  code: ErrorCode | 'BAD_REQUEST';
  detail: string;
  errors?: FieldError[];
  extra?: Record<string, unknown>;
};

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

// Fastify's own error codes, translated into the product's catalogue.
const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
};

function send(reply: FastifyReply, request: FastifyRequest, p: ProblemInput) {
  return (
    reply
      .status(p.status)
      .type('application/problem+json')
      // read by the metrics hook: errors are counted by their stable code
      .header('x-problem-code', p.code)
      .send({
        type: `https://swipesavvy.dev/problems/${p.code.toLowerCase().replaceAll('_', '-')}`,
        title: titles[p.status] ?? 'Error',
        status: p.status,
        code: p.code,
        detail: p.detail,
        instance: request.id,
        ...(p.errors ? { errors: p.errors } : {}),
        ...p.extra,
      })
  );
}

function fieldMessage(v: NonNullable<FastifyError['validation']>[number]): string {
  const params = v.params as { missingProperty?: string; additionalProperty?: string };
  if (v.keyword === 'required') return `missing property '${params.missingProperty}'`;
  if (v.keyword === 'additionalProperties') return `unknown property '${params.additionalProperty}'`;
  return v.message ?? 'invalid';
}

export function toProblem(error: FastifyError | Error): ProblemInput {
  if (isAppError(error)) {
    const { errors, ...extra } = (error.details ?? {}) as { errors?: FieldError[] };
    return { status: error.statusCode, code: error.code, detail: error.message, errors, extra };
  }
  const fe = error as FastifyError;
  if (fe.validation) {
    const where = fe.validationContext ?? 'input';
    return {
      status: 400,
      code: 'VALIDATION_FAILED',
      detail: `The request ${where} is invalid`,
      errors: fe.validation.map((v) => ({
        path: `${where}${v.instancePath || ''}`,
        message: fieldMessage(v),
      })),
    };
  }
  const mapped = fe.code ? fastifyCodes[fe.code] : undefined;
  if (mapped) return { status: ErrorCodes[mapped], code: mapped, detail: fe.message };
  if (fe instanceof SyntaxError)
    return { status: 400, code: 'INVALID_JSON', detail: 'The body is not valid JSON' };
  const status = fe.statusCode ?? 500;
  if (status === 429) return { status, code: 'RATE_LIMITED', detail: fe.message };
  if (status >= 400 && status < 500) return { status, code: 'BAD_REQUEST', detail: fe.message };
  if (status === 503) return { status, code: 'SERVICE_UNAVAILABLE', detail: 'Service unavailable' };
  return {
    status: 500,
    code: 'INTERNAL',
    detail: 'An unexpected error occurred; the request id identifies it in the logs',
  };
}

export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const problem = toProblem(error);
  if (problem.status >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.info({ code: problem.code, detail: problem.detail }, 'request refused');
  return send(reply, request, problem);
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply) {
  return send(reply, request, {
    status: 404,
    code: 'ROUTE_NOT_FOUND',
    detail: `No route ${request.method} ${request.url.split('?')[0]}`,
  });
}
