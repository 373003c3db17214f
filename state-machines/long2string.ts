/**
 * Hadoop's StringUtils.TraditionalBinaryPrefix.long2String: a byte count as
 * YARN prints it in its kill messages ("512", "1 G", "1.5 G"; the caller adds
 * the unit). Under 1024 the plain number; otherwise the largest binary prefix
 * that fits, with no decimals when the division is exact, else `decimals`
 * places rounded half-up — and "1024.0 K" is promoted to "1.0 M" as Hadoop does.
 */
const PREFIXES = ['K', 'M', 'G', 'T', 'P', 'E'] as const;
const KILO = 1024;

/** 2^(10·(i+1)) for prefix i, as a number (exact: powers of two). */
function prefixValue(i: number): number {
  return 2 ** (10 * (i + 1));
}

/**
 * Java's `String.format("%.Nf", x)` for the non-negative dyadic x we get here.
 * toFixed rounds the exact binary value, half-up on ties; x = n / 2^k has a
 * short exact decimal expansion, so this is Java's HALF_UP too.
 */
function fixed(x: number, decimals: number): string {
  return x.toFixed(decimals);
}

export function long2String(n: number, unit = '', decimals = 1): string {
  if (!Number.isFinite(n)) return String(n);
  n = Math.trunc(n);
  let sign = '';
  if (n < 0) {
    sign = '-';
    n = -n;
  }
  if (n < KILO) {
    const plain = `${sign}${n}`;
    return unit === '' ? plain : `${plain} ${unit}`;
  }
  let i = 0;
  while (i + 1 < PREFIXES.length && n >= prefixValue(i + 1)) i++;
  let value = prefixValue(i);
  let digits: string;
  if (n % value === 0) {
    digits = String(n / value);
  } else {
    digits = fixed(n / value, decimals);
    // 1023.95 K rounds to "1024.0": say it with the next prefix, like Hadoop.
    if (digits.startsWith('1024') && i + 1 < PREFIXES.length) {
      i++;
      value = prefixValue(i);
      digits = fixed(n / value, decimals);
    }
  }
  return `${sign}${digits} ${PREFIXES[i]}${unit}`;
}
