import { describe, expect, it } from "vitest";
import { renderMarkdown } from "./markdown";

describe("renderMarkdown", () => {
  it("renders the documents' headings, lists and emphasis", () => {
    const html = renderMarkdown("# Termos\n\n1. **O serviço.** Software.\n2. Riscos.");
    expect(html).toContain("<h1>Termos</h1>");
    expect(html).toContain("<ol>");
    expect(html).toContain("<strong>O serviço.</strong>");
  });

  it("never renders raw HTML or script links", () => {
    const html = renderMarkdown('<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))');
    expect(html).not.toContain("<script");
    expect(html).not.toContain("<img");
    expect(html).not.toContain('href="javascript:');
  });
});
