// Builds the console into the Python package (tianyan/web/dist), served by the API app under /console/.
import { fileURLToPath } from "node:url";
import vue from "@vitejs/plugin-vue";
import { ElementPlusResolver } from "unplugin-vue-components/resolvers";
import components from "unplugin-vue-components/vite";
import { defineConfig } from "vite";

const backend = process.env.TIANYAN_URL || "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [
    vue(),
    // Element Plus components, their CSS and the `Icon…` tags are imported where a template uses them, so the first
    // page parses only what it shows instead of the whole library (the dashboard was waiting ~0.3 s on that).
    components({
      dts: false,
      resolvers: [
        ElementPlusResolver({ importStyle: "css", directives: true }),
        (name) => (/^Icon[A-Z]/.test(name) ? { name: name.slice(4), from: "@element-plus/icons-vue" } : undefined),
      ],
    }),
  ],
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
