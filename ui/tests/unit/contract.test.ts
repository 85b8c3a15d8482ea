// docs/desktop.md against the window's code: the test ids it promises exist in the components,
// and every command it lists has a wrapper in api.ts.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const doc = readFileSync(new URL("../../../docs/desktop.md", import.meta.url), "utf8");
const componentsDir = new URL("../../src/components/", import.meta.url);
const components = readdirSync(componentsDir)
  .filter((f) => f.endsWith(".svelte"))
  .map((f) => readFileSync(new URL(f, componentsDir), "utf8"))
  .join("\n");

function section(title: string): string {
  const start = doc.indexOf(`## ${title}`);
  expect(start, `docs/desktop.md has a "## ${title}" section`).toBeGreaterThanOrEqual(0);
  const next = doc.indexOf("\n## ", start + 3);
  return doc.slice(start, next < 0 ? undefined : next);
}

describe("docs/desktop.md", () => {
  it("lists only test ids the components have", () => {
    const ids = [...section("Test ids").matchAll(/`([a-z][a-z-]*)`/g)]
      .map((m) => m[1])
      .filter((id) => !id.startsWith("data-") && id !== "aria-current" && id !== "signed_out" && !id.includes("_"));
    expect(ids.length).toBeGreaterThan(40);
    const tabs = [...components.matchAll(/id: "([a-z]+)", label:/g)].map((m) => `nav-${m[1]}`);
    const present = new Set([...[...components.matchAll(/(?:data-)?testid="([a-z-]+)"/g)].map((m) => m[1]), ...tabs]);
    expect(ids.filter((id) => !present.has(id))).toEqual([]);
  });

  it("has a wrapper in api.ts for every command", () => {
    const api = readFileSync(new URL("../../src/lib/api.ts", import.meta.url), "utf8");
    const commands = [...section("Commands").matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(commands.length).toBe(19);
    expect(commands.filter((c) => !api.includes(`"${c}"`))).toEqual([]);
  });
});
