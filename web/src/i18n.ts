import { createI18n } from "vue-i18n";
import en from "./locales/en";
import ptBR from "./locales/pt-BR";

export const LOCALES = ["pt-BR", "en"] as const;
const KEY = "crypteras.locale";

function initial(): string {
  const saved = localStorage.getItem(KEY);
  return saved && (LOCALES as readonly string[]).includes(saved) ? saved : "pt-BR";
}

export const i18n = createI18n({
  legacy: false,
  locale: initial(),
  fallbackLocale: "en",
  messages: { "pt-BR": ptBR, en },
});
document.documentElement.lang = i18n.global.locale.value;

export function setLocale(locale: string): void {
  if (!(LOCALES as readonly string[]).includes(locale)) return;
  i18n.global.locale.value = locale as (typeof LOCALES)[number];
  localStorage.setItem(KEY, locale);
  document.documentElement.lang = locale;
}
