import type { z } from 'zod';
import { ApiError, type FieldErrors } from './errors.ts';

/** Parses `input` with `schema`, or throws a 400 naming every invalid field. */
export function parse<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const fields: FieldErrors = {};
  for (const issue of result.error.issues) {
    const at = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) fields[[...at, k].join('.')] ??= 'is not a known field; remove it';
      continue;
    }
    fields[at.length ? at.join('.') : '_'] ??= issue.message;
  }
  throw new ApiError('validation_failed', { fields });
}
