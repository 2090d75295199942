// Language switch of the login page. The page is a server template, so
// it has no app.js session: it only shows one language's labels, and the
// messages of the server stay in both languages.

const LANG_KEY = "hl_lang";
const TITLES = { ko: "로그인 · 외로움안녕120", en: "Log in · Goodbye Loneliness 120" };

function apply(lang) {
  document.documentElement.lang = lang;
  document.title = TITLES[lang];
  for (const node of document.querySelectorAll("[data-lang]")) node.hidden = node.dataset.lang !== lang;
  for (const button of document.querySelectorAll("[data-set-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.setLang === lang));
  }
}

function storedLang() {
  try {
    return localStorage.getItem(LANG_KEY) === "en" ? "en" : "ko";
  } catch {
    return "ko";
  }
}

apply(storedLang());
for (const button of document.querySelectorAll("[data-set-lang]")) {
  button.addEventListener("click", () => {
    const lang = button.dataset.setLang;
    try {
      localStorage.setItem(LANG_KEY, lang);
    } catch {
      // A browser without storage keeps the choice for this page only.
    }
    apply(lang);
  });
}
