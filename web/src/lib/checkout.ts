// Where a payment provider sent the payer back to (/app/plans?checkout=…): what the page says.
// Only what the browser was told: the plan changes when the provider confirms to the API.

export type Outcome = "paid" | "pending" | "canceled" | "failed";

// Mercado Pago's back_url `collection_status` / `status` values.
const MP_PAID = new Set(["approved", "authorized"]);
const MP_WAITING = new Set(["pending", "in_process", "in_mediation"]);

export function checkoutOutcome(query: Record<string, unknown>): Outcome | null {
  const checkout = query.checkout;
  if (checkout === "paid") return "paid";
  if (checkout === "canceled") return "canceled";
  if (checkout !== "mercadopago") return null;
  const raw = query.collection_status ?? query.status;
  const status = typeof raw === "string" ? raw.toLowerCase() : "";
  // A card subscription (preapproval) comes back with its id only: Mercado Pago's notification
  // says whether it was authorized.
  if (!status && typeof query.preapproval_id === "string") return "pending";
  if (MP_PAID.has(status)) return "paid";
  if (MP_WAITING.has(status)) return "pending";
  return "failed";
}
