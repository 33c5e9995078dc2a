/**
 * Rest.li 2.0 query encoding, built by hand because generic encoders get it wrong both ways:
 * URLSearchParams / axios `params` percent-encode the structural characters `( ) , :`, and a
 * naive template leaves the colons inside URNs bare. Rest.li 2.0 wants the structure literal and
 * every value inside it URL-encoded, with `( ) , : '` escaped as well:
 * `accounts=List(urn%3Ali%3AsponsoredAccount%3A123)`, `dateRange=(start:(year:2026,month:1,day:1))`.
 * https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/protocol-version
 */
export interface RestliRecord {
  [key: string]: RestliValue;
}
export type RestliValue = string | number | RestliValue[] | RestliRecord;

/** URL encoding plus the Rest.li reserved characters `encodeURIComponent` leaves alone. */
export function encodeRestliPrimitive(value: string | number): string {
  return encodeURIComponent(String(value)).replace(
    /[()']/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

export function encodeRestli(value: RestliValue): string {
  if (Array.isArray(value)) {
    return `List(${value.map(encodeRestli).join(",")})`;
  }
  if (typeof value === "object") {
    const fields = Object.entries(value).map(
      ([key, field]) => `${encodeRestliPrimitive(key)}:${encodeRestli(field)}`,
    );
    return `(${fields.join(",")})`;
  }
  return encodeRestliPrimitive(value);
}

/**
 * A query string of Rest.li-encoded parameters. `projection` becomes the `fields` parameter,
 * whose commas are the projection syntax and so stay literal (as in LinkedIn's examples).
 */
export function restliQuery(
  params: Record<string, RestliValue>,
  projection: readonly string[] = [],
): string {
  const pairs = Object.entries(params).map(
    ([name, value]) => `${encodeRestliPrimitive(name)}=${encodeRestli(value)}`,
  );
  if (projection.length > 0) {
    pairs.push(`fields=${projection.map(encodeRestliPrimitive).join(",")}`);
  }
  return pairs.join("&");
}
