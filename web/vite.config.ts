import tailwindcss from "@tailwindcss/vite";
import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vitest/config";

// Served by the API at /app (api/webapp.py); `npm run dev` proxies the API of a local
// `crypteras up` (port 8000) so the same relative URLs work in both.
export default defineConfig({
  base: "/app/",
  plugins: [vue(), tailwindcss()],
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 800 },
  server: { proxy: { "/api": "http://127.0.0.1:8000" } },
  test: { environment: "jsdom", include: ["src/**/*.test.ts"] },
});
