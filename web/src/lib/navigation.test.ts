import { describe, expect, it } from "vitest";
import { nextPath } from "./navigation";

describe("nextPath", () => {
  it("goes back to a page of the app", () => {
    expect(nextPath("/bots/7b6c?tab=orders")).toBe("/bots/7b6c?tab=orders");
  });

  it("never leaves the app, whatever the URL says", () => {
    for (const hostile of ["https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)", ["/bots"], undefined]) {
      expect(nextPath(hostile)).toBe("/");
    }
  });
});
