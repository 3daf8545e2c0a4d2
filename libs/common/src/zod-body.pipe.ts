import { PipeTransform } from '@nestjs/common';
import { z } from 'zod';
import { ValidationError } from './errors';

/** Formats zod issues as `path: message; …` for a client-facing error. */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(body)'}: ${issue.message}`)
    .join('; ');
}

/**
 * Validates a request body (or any input) against a zod schema and returns the
 * parsed, typed value. Failures become ValidationError (400 VALIDATION_FAILED).
 */
export class ZodPipe<T extends z.ZodType> implements PipeTransform<unknown, z.infer<T>> {
  constructor(private readonly schema: T) {}

  transform(value: unknown): z.infer<T> {
    return parseInput(this.schema, value);
  }
}

/** Same check outside Nest's pipe machinery (socket handlers, use cases). */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(formatIssues(result.error));
  return result.data;
}
