/**
 * Secrets (stream keys, tokens, signatures) must never reach logs, API responses or
 * error messages. These helpers are the single place that knows what a secret
 * looks like in a URL or a free-form line.
 */
const SECRET_QUERY_KEYS = new Set(['key', 'sign', 'token', 'secret', 'auth', 'password', 'pwd', 'streamkey']);
const MASK = '***';

/** Masks secret query values and URL credentials. Non-URL input is returned masked entirely when it cannot be parsed. */
export function redactUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return redactText(raw);
  }
  if (url.password) url.password = MASK;
  if (url.username) url.username = MASK;
  for (const name of [...url.searchParams.keys()]) {
    if (SECRET_QUERY_KEYS.has(name.toLowerCase())) url.searchParams.set(name, MASK);
  }
  // URLSearchParams percent-encodes the mask; keep it readable.
  return url.toString().replace(/%2A%2A%2A/g, MASK);
}

const SECRET_IN_TEXT = new RegExp(
  `([?&](?:${[...SECRET_QUERY_KEYS].join('|')})=)[^&\\s"']+|(Bearer\\s+)[A-Za-z0-9._~+/=-]+|(://[^:/\\s@]+:)[^@\\s/]+@`,
  'gi',
);

/** Masks anything that looks like a secret inside a free-form line (ffmpeg stderr, log messages). */
export function redactText(line: string): string {
  return line.replace(SECRET_IN_TEXT, (_m, q?: string, bearer?: string, cred?: string) => {
    if (q) return `${q}${MASK}`;
    if (bearer) return `${bearer}${MASK}`;
    return `${cred}${MASK}@`;
  });
}

/** Shows the first characters of a secret so an operator can tell keys apart. */
export function maskSecret(secret: string): string {
  if (secret.length <= 4) return MASK;
  return `${secret.slice(0, 4)}${MASK}`;
}
