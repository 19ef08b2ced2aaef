// Money and quantities as the API sends them (decimal strings), formatted for a locale without
// ever going through a float: Intl.NumberFormat formats a decimal string exactly.

const ISO_FIAT = new Set(["BRL", "USD", "EUR"]);

function decimals(value: string): number {
  const dot = value.indexOf(".");
  return dot < 0 ? 0 : value.length - dot - 1;
}

/** An amount in `asset`: a fiat currency in its own format (R$ 1.234,56), a coin or a
 * stablecoin with its own digits and its code (0,00012 BTC). `digits` caps the decimals shown
 * (an average price's long tail), rounding the exact decimal, never a float. */
export function money(
  value: string | null | undefined,
  asset: string,
  locale: string,
  digits = 20,
): string {
  if (value === null || value === undefined || value === "") return "—";
  const trimmed = trimZeros(value);
  // Intl takes numeric strings exactly (ES2023); its type still says number.
  const exact = trimmed as unknown as number;
  if (ISO_FIAT.has(asset)) {
    return new Intl.NumberFormat(locale, {
      style: "currency",
      currency: asset,
      minimumFractionDigits: 2,
      maximumFractionDigits: Math.min(Math.max(2, decimals(trimmed)), Math.max(2, digits)),
    }).format(exact);
  }
  const number = new Intl.NumberFormat(locale, {
    maximumFractionDigits: Math.min(decimals(trimmed), digits),
  }).format(exact);
  return `${number} ${asset}`;
}

/** A percentage given in percent points ("12.5" → 12,5 %). Display only: through a float. */
export function percent(value: string | null | undefined, locale: string): string {
  if (value === null || value === undefined || value === "") return "—";
  return ratio(String(Number(value) / 100), locale);
}

/** A fraction as a percentage ("0.125" → 12,5 %). */
export function ratio(value: string | null | undefined, locale: string): string {
  if (value === null || value === undefined || value === "") return "—";
  return new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 2 }).format(
    Number(value),
  );
}

/** A ratio such as Sharpe's, to two decimals. Display only: through a float. */
export function decimal(value: unknown, locale: string): string {
  if (value === null || value === undefined || value === "") return "—";
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(Number(value));
}

export function dateTime(iso: string | null | undefined, locale: string): string {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(locale, { dateStyle: "short", timeStyle: "medium" }).format(
    new Date(iso),
  );
}

function trimZeros(value: string): string {
  return value.includes(".") ? value.replace(/0+$/, "").replace(/\.$/, "") : value;
}
