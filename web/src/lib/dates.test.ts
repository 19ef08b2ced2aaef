import { describe, expect, it } from "vitest";
import { dayEnd, dayStart } from "./dates";

describe("days to moments", () => {
  it("runs from the first day's local start to the next day's", () => {
    expect(dayStart("2026-12-07").getDate()).toBe(7);
    expect(dayStart("2026-12-07").getHours()).toBe(0);
    expect(dayEnd("2026-12-31").getTime() - dayStart("2026-12-31").getTime()).toBe(86_400_000);
    expect(dayEnd("2026-12-31").getFullYear()).toBe(2027);
  });
});
