/** A bearer token, or a function that returns a current one (called before each use). */
export type TokenSource = string | (() => string | Promise<string>);

/** resolveToken returns the token a source holds now. */
export async function resolveToken(source: TokenSource): Promise<string> {
  return typeof source === "function" ? await source() : source;
}
