// Every string on screen goes through here. Each feature keeps both languages of its strings together in
// locales/<feature>.json as {"zh-CN": {...}, "en": {...}}; a key missing in the language shown is recorded in
// window.__tianyanMissingKeys (the browser tests read it) and shown as the key itself, never silently in Chinese.
import { createI18n } from "vue-i18n";

export const LANGUAGES = [
  { code: "zh-CN", label: "简体中文" },
  { code: "en", label: "English" },
];
const STORAGE_KEY = "tianyan.language";

const tables = import.meta.glob("./locales/*.json", { eager: true, import: "default" });
const messages = Object.fromEntries(LANGUAGES.map(({ code }) => [code, {}]));
for (const table of Object.values(tables)) {
  for (const { code } of LANGUAGES) Object.assign(messages[code], table[code] || {});
}

window.__tianyanMissingKeys = [];

function initialLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  return LANGUAGES.some(({ code }) => code === saved) ? saved : "zh-CN";
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLanguage(),
  fallbackLocale: false,
  messages,
  missingWarn: false,
  fallbackWarn: false,
  missing: (locale, key) => {
    window.__tianyanMissingKeys.push(`${locale}:${key}`);
    return key;
  },
});

export function setLanguage(code) {
  i18n.global.locale.value = code;
  localStorage.setItem(STORAGE_KEY, code);
  document.documentElement.lang = code;
}

export const t = (...args) => i18n.global.t(...args);
