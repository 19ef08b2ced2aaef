import { createRouter, createWebHistory, type RouteRecordRaw } from "vue-router";
import { api } from "./lib/api";

declare module "vue-router" {
  interface RouteMeta {
    public?: boolean;
  }
}

const routes: RouteRecordRaw[] = [
  { path: "/login", name: "login", component: () => import("./pages/LoginPage.vue"), meta: { public: true } },
  { path: "/signup", name: "signup", component: () => import("./pages/SignupPage.vue"), meta: { public: true } },
  { path: "/legal/:kind(terms|privacy)", name: "legal", component: () => import("./pages/LegalPage.vue"), props: true, meta: { public: true } },
  { path: "/", name: "dashboard", component: () => import("./pages/DashboardPage.vue") },
  { path: "/contexts", name: "contexts", component: () => import("./pages/ContextsPage.vue") },
  { path: "/keys", name: "keys", component: () => import("./pages/KeysPage.vue") },
  { path: "/plans", name: "plans", component: () => import("./pages/PlansPage.vue") },
  { path: "/bots", name: "bots", component: () => import("./pages/BotsPage.vue") },
  { path: "/bots/new", name: "bot-new", component: () => import("./pages/NewBotPage.vue") },
  { path: "/bots/:id", name: "bot", component: () => import("./pages/BotPage.vue"), props: true },
  { path: "/backtests", name: "backtests", component: () => import("./pages/BacktestsPage.vue") },
  { path: "/orders", name: "orders", component: () => import("./pages/OrdersPage.vue") },
  { path: "/account", name: "account", component: () => import("./pages/AccountPage.vue") },
  { path: "/:rest(.*)*", name: "missing", component: () => import("./pages/MissingPage.vue") },
];

export const router = createRouter({ history: createWebHistory("/app/"), routes });

router.beforeEach((to) => {
  if (!to.meta.public && !api.signedIn) return { name: "login", query: { next: to.fullPath } };
  return true;
});
