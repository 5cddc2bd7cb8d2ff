// Every string the UI shows, in the agent's language: one library (i18next) with the catalogs
// in ../locales, and Intl for dates and numbers. The language is the one Settings names
// (`[app] locale`), else the browser's (the OS's, in the desktop window), else English.
//
// `t()` reads `i18n.locale`, so anything rendered with it follows a switch at once.

import i18next from "i18next";
import en from "../locales/en.json";
import de from "../locales/de.json";
import nl from "../locales/nl.json";
import es from "../locales/es.json";
import hi from "../locales/hi.json";

export const LOCALES = ["en", "de", "nl", "es", "hi"] as const;
export type Locale = (typeof LOCALES)[number];

/** Each language by its own name, for the chooser. */
export const LOCALE_NAMES: Record<Locale, string> = {
  en: "English",
  de: "Deutsch",
  nl: "Nederlands",
  es: "Español",
  hi: "हिन्दी",
};

const resources = {
  en: { translation: en },
  de: { translation: de },
  nl: { translation: nl },
  es: { translation: es },
  hi: { translation: hi },
};

void i18next.init({
  resources,
  lng: "en",
  fallbackLng: "en",
  initAsync: false,
  interpolation: { escapeValue: false },
  returnNull: false,
});

/** The first of the browser's languages Ringside speaks, else English. */
export function browserLocale(): Locale {
  const wanted = typeof navigator === "undefined" ? [] : [...(navigator.languages ?? []), navigator.language];
  for (const tag of wanted) {
    const base = (tag ?? "").toLowerCase().split("-")[0] as Locale;
    if (LOCALES.includes(base)) return base;
  }
  return "en";
}

class I18n {
  /** The language in force. */
  locale = $state<Locale>(browserLocale());

  constructor() {
    void i18next.changeLanguage(this.locale);
    this.mark();
  }

  /** Speak `override` (Settings), or the browser's language when none. */
  use(override: string | null | undefined): void {
    const next = override && (LOCALES as readonly string[]).includes(override) ? (override as Locale) : browserLocale();
    if (next === this.locale && i18next.language === next) return;
    void i18next.changeLanguage(next);
    this.locale = next;
    this.mark();
  }

  private mark(): void {
    if (typeof document !== "undefined") document.documentElement.lang = this.locale;
  }

  t(key: string, options?: Record<string, unknown>): string {
    void this.locale; // re-render on a switch
    return i18next.t(key, { lng: this.locale, ...options });
  }

  /** A catalog entry as written, placeholders left as `{{name}}`. */
  raw(key: string): string {
    void this.locale;
    const v = i18next.getResource(this.locale, "translation", key) ?? i18next.getResource("en", "translation", key);
    return typeof v === "string" ? v : key;
  }
}

export const i18n = new I18n();

/** The string `key` in the language in force. */
export function t(key: string, options?: Record<string, unknown>): string {
  return i18n.t(key, options);
}
