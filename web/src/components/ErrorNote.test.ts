import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import { createI18n } from "vue-i18n";
import { ApiError, NETWORK_ERROR } from "../lib/api";
import en from "../locales/en";
import ErrorNote from "./ErrorNote.vue";

const i18n = createI18n({ legacy: false, locale: "en", messages: { en } });
const show = (error: ApiError | null) => mount(ErrorNote, { props: { error }, global: { plugins: [i18n] } });

describe("ErrorNote", () => {
  it("shows the API's message and each refused field, never the raw body", () => {
    const fields = [{ field: "config.order_amount", message: "must be greater than 0" }];
    const note = show(new ApiError(422, "invalid_config", "The bot's settings are not valid.", { fields }));
    expect(note.get("[role=alert]").text()).toContain("The bot's settings are not valid.");
    expect(note.text()).toContain("config.order_amount: must be greater than 0");
    expect(note.text()).not.toContain("{");
  });

  it("says the server could not be reached, in the user's language", () => {
    const note = show(new ApiError(0, NETWORK_ERROR, "The server could not be reached."));
    expect(note.text()).toBe(en.errors.network);
  });

  it("shows nothing without an error", () => {
    expect(show(null).find("[role=alert]").exists()).toBe(false);
  });
});
