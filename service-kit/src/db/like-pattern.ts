/** A LIKE pattern matching `text` anywhere, with LIKE's wildcards escaped (the default escape is `\`). */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
