// Builds the console into the Python package (tianyan/web/dist), served by the API app under /console/.
import { fileURLToPath } from "node:url";
import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

const backend = process.env.TIANYAN_URL || "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [vue()],
  base: "/console/",
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  build: {
    outDir: fileURLToPath(new URL("../tianyan/web/dist", import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
  },
  // `npm run dev` against a running `tianyan demo`.
  server: { proxy: { "/api": { target: backend, ws: true }, "/media": { target: backend, ws: true } } },
});
