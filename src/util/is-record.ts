/**
 * Whether `value` is a non-null object other than an array, whose fields can be read by name:
 * a parsed JSON object, an SDK response, an options bag, an error.
 * @internal
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
