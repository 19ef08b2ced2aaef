import { describe, expect, it } from "vitest";
import { configOf, newBotForm } from "./bots";

describe("configOf", () => {
  it("makes a CONTINUOUS SmartBot with exact amounts and its risk settings", () => {
    const form = { ...newBotForm("smart"), order_amount: "50,5", allocated_balance: " 1000 ", interval_seconds: "60" };
    expect(configOf(form, "BTC-BRL")).toEqual({
      symbol: "BTC-BRL",
      order_amount: "50.5",
      allocated_balance: "1000",
      mode: "CONTINUOUS",
      interval_seconds: 60,
      order_type: "market",
      risk: {
        take_profit: { enabled: true, percent: "3" },
        stop_loss: { enabled: true, soft_percent: "5", hard_percent: "10" },
        trailing_stop: { enabled: false },
        circuit_breaker: { enabled: true },
      },
    });
  });

  it("gives a scheduled bot its cron and a limit order its offset", () => {
    const form = { ...newBotForm("smart"), mode: "SCHEDULED" as const, order_type: "limit" as const, max_buys: "3" };
    const config = configOf(form, "ETH-BTC");
    expect(config).toMatchObject({ cron: "0 9 * * *", timezone: "America/Sao_Paulo", limit_offset_percent: "0.1", max_buys: 3 });
    expect(config).not.toHaveProperty("interval_seconds");
  });

  it("sends a mistyped count as typed, for the API to refuse by name, never as unlimited", () => {
    const form = { ...newBotForm("smart"), max_buys: "3x", interval_seconds: " 60 " };
    expect(configOf(form, "BTC-BRL")).toMatchObject({ max_buys: "3x", interval_seconds: 60 });
    const dca = { ...newBotForm("dca"), max_cycles: "1,5" };
    expect(configOf(dca, "BTC-BRL")).toMatchObject({ max_cycles: "1,5" });
  });

  it("switches the stop loss off whole", () => {
    const form = { ...newBotForm("smart"), stop_loss: false, stop_loss_percent: "12" };
    expect(configOf(form, "BTC-BRL")).toMatchObject({ risk: { stop_loss: { enabled: false } } });
  });

  it("makes a Candle bot with the chosen indicators", () => {
    const form = { ...newBotForm("candle"), bollinger: false, order_amount: "10", allocated_balance: "100" };
    expect(configOf(form, "BTC-USDT")).toMatchObject({
      strategy: { timeframe: "1h", rsi: {}, bollinger: null },
      min_confidence: "MEDIUM",
      auto_execute: false,
    });
  });

  it("makes a DCA bot, leaving out the exits switched off", () => {
    const form = { ...newBotForm("dca"), purchase_amount: "100", allocated_balance: "1200", stop_loss: false, max_cycles: "12" };
    expect(configOf(form, "BTC-BRL")).toEqual({
      symbol: "BTC-BRL",
      purchase_amount: "100",
      frequency: "24h",
      allocated_balance: "1200",
      take_profit_percent: "3",
      stop_loss_percent: null,
      max_cycles: 12,
    });
  });
});
