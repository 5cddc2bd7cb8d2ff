import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// `npm run dev` proxies the API and the live websocket to a running server.
const server = process.env.RINGSIDE_URL ?? "http://127.0.0.1:8089";

// One build for both hosts: the Tauri window loads ui/dist from disk and ringside-server serves
// it over HTTP, so every asset path is relative.
export default defineConfig({
  base: "./",
  plugins: [svelte()],
  clearScreen: false,
  server: {
    port: 5173,
    strictPort: true,
    proxy: {
      "/api": { target: server, changeOrigin: true, ws: true },
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
  },
});
