// Builds the browser-test harness (harness/index.html: the real App with the IPC mocked) into
// ui/dist-harness. Only the Playwright tests use it; the shell never sees it.
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vite";

export default defineConfig({
  root: "harness",
  plugins: [svelte()],
  clearScreen: false,
  build: { outDir: "../dist-harness", emptyOutDir: true, target: "es2022" },
});
