// Svelte's compiler options: runes everywhere, TypeScript in <script lang="ts">.
import { vitePreprocess } from "@sveltejs/vite-plugin-svelte";

export default {
  preprocess: vitePreprocess(),
  compilerOptions: { runes: true },
};
