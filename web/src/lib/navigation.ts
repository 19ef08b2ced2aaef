// Where the login page sends the user after logging in: back to the page they came from, given
// in the URL (`?next=`), so only ever a path inside the app, never another site.

export function nextPath(next: unknown): string {
  if (typeof next !== "string" || !next.startsWith("/")) return "/";
  // "//host" and "/\\host" are other sites to a browser.
  if (next.startsWith("//") || next.startsWith("/\\")) return "/";
  return next;
}
