// The bots' shapes as the API sends them, and the create wizard's form turned into a config.

export type BotKind = "smart" | "candle" | "dca";

export interface Funds {
  base: string;
  quote: string;
  allocated_balance: string;
  free: string;
  blocked: string;
  invested: string;
  realized_profit: string;
  position_quantity: string;
  average_price: string | null;
}

export interface Bot {
  id: string;
  context_id: string;
  kind: BotKind;
  name: string;
  venue: string;
  symbol: string;
  status: "running" | "paused" | "stopped";
  pause_reason: string | null;
  pause_detail: string | null;
  config: Record<string, unknown> & { mode?: string };
  funds: Funds;
  risk: { circuit_breaker_tripped?: boolean } & Record<string, unknown>;
  last_decision: { at: string; action: string; detail: string } | null;
}

export interface Order {
  id: string;
  bot_id: string;
  symbol: string;
  side: "buy" | "sell";
  type: string;
  status: string;
  quantity: string | null;
  filled_quantity: string;
  quote_quantity: string;
  price: string | null;
  average_price: string | null;
  strategy: string;
  created_at: string;
}

/** Every field of the wizard, as typed: strings for amounts (exact decimals), "" for unset. */
export interface BotForm {
  kind: BotKind;
  mode: "CONTINUOUS" | "SCHEDULED" | "MANUAL";
  interval_seconds: string;
  cron: string;
  timezone: string;
  order_amount: string;
  allocated_balance: string;
  max_buys: string;
  order_type: "market" | "limit";
  limit_offset_percent: string;
  take_profit: boolean;
  take_profit_percent: string;
  stop_loss: boolean;
  stop_loss_percent: string;
  stop_loss_hard_percent: string;
  trailing_stop: boolean;
  circuit_breaker: boolean;
  timeframe: string;
  rsi: boolean;
  bollinger: boolean;
  min_confidence: "LOW" | "MEDIUM" | "HIGH";
  auto_execute: boolean;
  purchase_amount: string;
  frequency: string;
  max_cycles: string;
}

export function newBotForm(kind: BotKind = "smart"): BotForm {
  return {
    kind,
    mode: "CONTINUOUS",
    interval_seconds: "3600",
    cron: "0 9 * * *",
    timezone: "America/Sao_Paulo",
    order_amount: "",
    allocated_balance: "",
    max_buys: "",
    order_type: "market",
    limit_offset_percent: "0.1",
    take_profit: true,
    take_profit_percent: "3",
    stop_loss: true,
    stop_loss_percent: "5",
    stop_loss_hard_percent: "10",
    trailing_stop: false,
    circuit_breaker: true,
    timeframe: "1h",
    rsi: true,
    bollinger: true,
    min_confidence: "MEDIUM",
    auto_execute: false,
    purchase_amount: "",
    frequency: "24h",
    max_cycles: "",
  };
}

const trimmed = (value: string): string => value.trim().replace(",", ".");
/** A whole number as a number; anything else as typed, for the API to refuse by the field's
 * name (never NaN, which JSON would send as null: "unlimited"). */
const whole = (value: string): number | string => (/^\d+$/.test(value.trim()) ? Number(value.trim()) : value.trim());
const optionalInt = (value: string): number | string | null => (value.trim() ? whole(value) : null);
const optionalAmount = (value: string): string | null => (value.trim() ? trimmed(value) : null);

/** The config the API validates: amounts stay decimal strings (a comma typed as the decimal
 * mark becomes a dot); the API answers each wrong field by name. */
export function configOf(form: BotForm, symbol: string): Record<string, unknown> {
  if (form.kind === "dca") {
    return {
      symbol,
      purchase_amount: trimmed(form.purchase_amount),
      frequency: form.frequency,
      allocated_balance: trimmed(form.allocated_balance),
      take_profit_percent: form.take_profit ? optionalAmount(form.take_profit_percent) : null,
      stop_loss_percent: form.stop_loss ? optionalAmount(form.stop_loss_percent) : null,
      max_cycles: optionalInt(form.max_cycles),
    };
  }
  const risk = {
    take_profit: { enabled: form.take_profit, percent: trimmed(form.take_profit_percent) || "3" },
    // The soft stop sells after its confirmation window, the hard one at once (deeper).
    stop_loss: form.stop_loss
      ? {
          enabled: true,
          soft_percent: optionalAmount(form.stop_loss_percent),
          hard_percent: optionalAmount(form.stop_loss_hard_percent),
        }
      : { enabled: false },
    trailing_stop: { enabled: form.trailing_stop },
    circuit_breaker: { enabled: form.circuit_breaker },
  };
  const shared = {
    symbol,
    order_amount: trimmed(form.order_amount),
    allocated_balance: trimmed(form.allocated_balance),
    ...(form.max_buys.trim() ? { max_buys: whole(form.max_buys) } : {}),
    risk,
  };
  if (form.kind === "candle") {
    return {
      ...shared,
      strategy: {
        timeframe: form.timeframe,
        rsi: form.rsi ? {} : null,
        bollinger: form.bollinger ? {} : null,
      },
      min_confidence: form.min_confidence,
      auto_execute: form.auto_execute,
    };
  }
  return {
    ...shared,
    mode: form.mode,
    ...(form.mode === "CONTINUOUS" ? { interval_seconds: whole(form.interval_seconds) } : {}),
    ...(form.mode === "SCHEDULED" ? { cron: form.cron.trim(), timezone: form.timezone.trim() } : {}),
    order_type: form.order_type,
    ...(form.order_type === "limit" ? { limit_offset_percent: trimmed(form.limit_offset_percent) } : {}),
  };
}
