/** Exits 2 with `message`: the command was not given what it needs (a problem with what was checked exits 1). */
export function usage(message: string): never {
  console.error(message);
  process.exit(2);
}
