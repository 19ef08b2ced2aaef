import { describe, expect, it } from "vitest";
import { candlesOf, drawdownOf, markersOf, pricePrecision } from "./charts";

const candles = candlesOf(
  ["2026-12-01T10:00:00Z", "2026-12-01T10:01:00Z", "2026-12-01T10:02:00Z"].map((open_time) => ({
    open_time,
    open: "1",
    high: "2",
    low: "0.5",
    close: "1.5",
  })),
);

describe("drawdownOf", () => {
  it("measures each point against the highest before it", () => {
    const equity = [100, 120, 90, 130, 117].map((value, time) => ({ time, value }));
    expect(drawdownOf(equity).map((p) => Math.round(p.value * 100) / 100)).toEqual([0, 0, -25, 0, -10]);
  });
});

describe("pricePrecision", () => {
  it("gives reais cents and a coin priced in bitcoin its satoshis", () => {
    const at = (close: string) => [{ time: 0, open: close, high: close, low: close, close }];
    expect(pricePrecision(at("349968.0208"))).toBe(2);
    expect(pricePrecision(at("5.21"))).toBe(4);
    expect(pricePrecision(at("0.0896"))).toBe(8);
  });
});

describe("markersOf", () => {
  it("puts each filled order on the candle it was placed in, oldest first", () => {
    const marks = markersOf(candles, [
      { side: "sell", at: "2026-12-01T10:02:30Z", filled: true },
      { side: "buy", at: "2026-12-01T10:00:59Z", filled: true },
      { side: "buy", at: "2026-12-01T10:01:00Z", filled: true },
    ]);
    expect(marks).toEqual([
      { time: candles[0]!.time, side: "buy" },
      { time: candles[1]!.time, side: "buy" },
      { time: candles[2]!.time, side: "sell" },
    ]);
  });

  it("leaves out unfilled orders and orders before the chart", () => {
    const marks = markersOf(candles, [
      { side: "buy", at: "2026-12-01T10:01:10Z", filled: false },
      { side: "buy", at: "2026-12-01T09:59:59Z", filled: true },
    ]);
    expect(marks).toEqual([]);
    expect(markersOf([], [{ side: "buy", at: "2026-12-01T10:01:10Z", filled: true }])).toEqual([]);
  });
});
