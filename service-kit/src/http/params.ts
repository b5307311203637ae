/** Route parameter `:id` as a positive integer, or undefined (the caller answers 404). */
export function idParam(value: string | undefined): number | undefined {
  if (!value || !/^[1-9]\d{0,15}$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}
