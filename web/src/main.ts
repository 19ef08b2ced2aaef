import { createApp } from "vue";
import App from "./App.vue";
import { api, REFRESH_KEY } from "./lib/api";
import { i18n } from "./i18n";
import { router } from "./router";
import "./style.css";

// A session that can no longer be refreshed: log in again, then come back here.
api.onExpired(() => {
  const here = router.currentRoute.value;
  if (here.meta.public) return;
  void router.push({ name: "login", query: { next: here.fullPath, expired: "1" } });
});

// Logged out in another tab: this one ends too.
window.addEventListener("storage", (event) => {
  if (event.key === REFRESH_KEY && event.newValue === null) api.end();
});

createApp(App).use(i18n).use(router).mount("#app");
