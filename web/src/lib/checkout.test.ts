import { describe, expect, it } from "vitest";
import { checkoutOutcome } from "./checkout";

describe("checkoutOutcome", () => {
  it("reads Stripe's success and cancel returns", () => {
    expect(checkoutOutcome({ checkout: "paid", session_id: "cs_1" })).toBe("paid");
    expect(checkoutOutcome({ checkout: "canceled" })).toBe("canceled");
  });

  it("reads Mercado Pago's statuses, collection_status first", () => {
    expect(checkoutOutcome({ checkout: "mercadopago", collection_status: "approved" })).toBe("paid");
    expect(checkoutOutcome({ checkout: "mercadopago", status: "in_process" })).toBe("pending");
    expect(checkoutOutcome({ checkout: "mercadopago", collection_status: "rejected", status: "approved" })).toBe("failed");
    expect(checkoutOutcome({ checkout: "mercadopago" })).toBe("failed");
  });

  it("waits for Mercado Pago's word on a card subscription, which returns with its id only", () => {
    expect(checkoutOutcome({ checkout: "mercadopago", preapproval_id: "2c938084" })).toBe("pending");
  });

  it("says nothing when the page was not reached from a checkout", () => {
    expect(checkoutOutcome({})).toBeNull();
    expect(checkoutOutcome({ checkout: "<script>" })).toBeNull();
  });
});
