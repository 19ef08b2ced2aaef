import { describe, expect, it } from "vitest";
import { decimal, money, percent, ratio } from "./format";

describe("money", () => {
  it("formats reais the Brazilian way, keeping every digit the API sent", () => {
    expect(money("1234.5", "BRL", "pt-BR")).toBe("R$\u00a01.234,50");
    expect(money("0.123456", "BRL", "pt-BR")).toBe("R$\u00a00,123456");
  });

  it("never rounds through a float", () => {
    // 0.1 + 0.2 style drift would show at the 17th digit; a decimal string keeps it exact.
    expect(money("12345678901234.000000000001", "BTC", "en")).toBe("12,345,678,901,234.000000000001 BTC");
  });

  it("writes coins and stablecoins with their code", () => {
    expect(money("0.00012000", "BTC", "pt-BR")).toBe("0,00012 BTC");
    expect(money("250", "USDT", "en")).toBe("250 USDT");
  });

  it("caps the decimals shown when asked, rounding the exact decimal", () => {
    expect(money("0.089741641641641642", "BTC", "en", 8)).toBe("0.08974164 BTC");
    expect(money("10.125", "BRL", "pt-BR", 2)).toBe("R$\u00a010,13");
  });

  it("shows a dash for nothing", () => {
    expect(money(null, "BRL", "en")).toBe("—");
    expect(money("", "BRL", "en")).toBe("—");
  });
});

describe("decimal", () => {
  it("shows a ratio to two decimals in the user's format", () => {
    expect(decimal(6.4733418185211, "pt-BR")).toBe("6,47");
    expect(decimal(null, "en")).toBe("—");
  });
});

describe("percentages", () => {
  it("reads percent points and fractions", () => {
    expect(percent("12.5", "en")).toBe("12.5%");
    expect(ratio("0.125", "pt-BR")).toBe("12,5%");
    expect(ratio(null, "en")).toBe("—");
  });
});
