// Every string the UI shows, in the agent's language: one library (i18next) with the catalogs
// in ../locales, and Intl for dates and numbers. The language is the one Settings names
// (`[app] locale`), else the browser's (the OS's, in the desktop window), else English.
//
// `t()` reads `i18n.locale`, so anything rendered with it follows a switch at once.

import i18next from "i18next";
import en from "../locales/en.json";

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

/** The other catalogs, each its own file, loaded when first spoken (English is built in). */
const catalogs: Record<Exclude<Locale, "en">, () => Promise<{ default: Record<string, unknown> }>> = {
  de: () => import("../locales/de.json"),
  nl: () => import("../locales/nl.json"),
  es: () => import("../locales/es.json"),
  hi: () => import("../locales/hi.json"),
};

async function load(locale: Locale): Promise<void> {
  if (locale === "en" || i18next.hasResourceBundle(locale, "translation")) return;
  const catalog = await catalogs[locale]();
  i18next.addResourceBundle(locale, "translation", catalog.default, true, true);
}

void i18next.init({
  resources: { en: { translation: en } },
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
  /** The language in force (English until another one's catalog has loaded). */
  locale = $state<Locale>("en");
  private wanted: Locale = "en";

  constructor() {
    void this.use(null);
  }

  /** Speak `override` (Settings), or the browser's language when none. */
  async use(override: string | null | undefined): Promise<void> {
    const next = override && (LOCALES as readonly string[]).includes(override) ? (override as Locale) : browserLocale();
    this.wanted = next;
    if (next === this.locale && i18next.language === next) return;
    try {
      await load(next);
    } catch {
      return; // the file did not load: stay in the language in force
    }
    if (this.wanted !== next) return; // another switch came meanwhile
    await i18next.changeLanguage(next);
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
