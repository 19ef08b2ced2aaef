// Turning the API's candles and orders into what the charts draw.

export interface Candle {
  time: number; // the candle's open, in seconds since the epoch (UTC)
  open: string;
  high: string;
  low: string;
  close: string;
}

export interface Trade {
  side: "buy" | "sell";
  at: string; // ISO time the order was placed
  filled: boolean;
}

export interface Marker {
  time: number;
  side: "buy" | "sell";
}

interface ApiCandle {
  open_time: string;
  open: string;
  high: string;
  low: string;
  close: string;
}

export function candlesOf(rows: ApiCandle[]): Candle[] {
  return rows.map((row) => ({
    time: Math.floor(Date.parse(row.open_time) / 1000),
    open: row.open,
    high: row.high,
    low: row.low,
    close: row.close,
  }));
}

/** The API's equity series (`{at, equity}`) as a line's points (display only: floats). */
export function equityLine(rows: { at: string; equity: string }[]): { time: number; value: number }[] {
  return rows.map((row) => ({ time: Date.parse(row.at) / 1000, value: Number(row.equity) }));
}

/** How far below its highest so far the equity is at each point, in percent (0 at a new high,
 * -12.5 when 12.5 % under it). */
export function drawdownOf(points: { time: number; value: number }[]): { time: number; value: number }[] {
  let peak = -Infinity;
  return points.map(({ time, value }) => {
    peak = Math.max(peak, value);
    return { time, value: peak > 0 ? (value / peak - 1) * 100 : 0 };
  });
}

/** Decimals for a price axis: a market's prices in the thousands need cents, a coin priced in
 * another coin needs satoshis. */
export function pricePrecision(candles: Candle[]): number {
  const last = Number(candles.at(-1)?.close ?? 0);
  if (last >= 1000) return 2;
  if (last >= 1) return 4;
  return 8;
}

/** Each filled order on the candle it was placed in (the last candle that opened at or
 * before it); orders before the first candle shown are left out. Sorted by time, as the
 * chart needs. */
export function markersOf(candles: Candle[], trades: Trade[]): Marker[] {
  if (candles.length === 0) return [];
  const opens = candles.map((c) => c.time);
  const marks: Marker[] = [];
  for (const trade of trades) {
    if (!trade.filled) continue;
    const at = Date.parse(trade.at) / 1000;
    if (at < opens[0]!) continue;
    let low = 0;
    let high = opens.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (opens[middle]! <= at) low = middle;
      else high = middle - 1;
    }
    marks.push({ time: opens[low]!, side: trade.side });
  }
  return marks.sort((a, b) => a.time - b.time);
}
