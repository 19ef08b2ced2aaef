import { describe, expect, it } from "vitest";
import en from "./en";
import ptBR from "./pt-BR";

function keys(messages: object, prefix = ""): string[] {
  return Object.entries(messages).flatMap(([key, value]) =>
    typeof value === "object" ? keys(value as object, `${prefix}${key}.`) : [`${prefix}${key}`],
  );
}

describe("messages", () => {
  it("has every message in both languages", () => {
    expect(keys(ptBR).sort()).toEqual(keys(en).sort());
  });
});
