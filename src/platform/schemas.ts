import Type from 'typebox';

export const Uuid = Type.String({ format: 'uuid' });
export const IdParams = Type.Object({ id: Uuid });

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String(),
    detail: Type.String(),
    instance: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { additionalProperties: true, description: 'RFC 9457 problem details with a stable `code`' },
);

/** Error responses every route documents. */
export const problemResponses = { '4xx': ProblemSchema, '5xx': ProblemSchema };

// Rows carry Date objects; the serializer writes them as RFC 3339 strings.
export const Timestamp = Type.Unsafe<Date | string>(Type.String({ format: 'date-time' }));

export const PageQuery = {
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
};
