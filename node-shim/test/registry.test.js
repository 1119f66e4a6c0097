// What the elizaOS registry asks of a plugin: package.json fields, the two images, the README's sections.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { SETTING_NAMES } from "../dist/settings.js";
import { drawBanner, drawLogo } from "../scripts/draw-images.mjs";

const read = (p) => readFileSync(new URL(`../${p}`, import.meta.url));
const pkg = JSON.parse(read("package.json"));

/** Width and height from a JPEG's baseline frame header (SOF0). */
function jpegSize(jpeg) {
  assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8], "starts with SOI");
  for (let i = 2; i < jpeg.length; ) {
    assert.equal(jpeg[i], 0xff, `a marker at ${i}`);
    const marker = jpeg[i + 1];
    if (marker === 0xc0) return { height: jpeg.readUInt16BE(i + 5), width: jpeg.readUInt16BE(i + 7) };
    i += 2 + jpeg.readUInt16BE(i + 2);
  }
  throw new Error("no SOF0 frame");
}

test("package.json: name, description, keywords, repository and agentConfig as the registry wants them", () => {
  assert.match(pkg.name, /^(@[\w-]+\/)?plugin-/);
  assert.ok(pkg.description.length >= 10);
  for (const k of ["elizaos", "elizaos-plugins"]) assert.ok(pkg.keywords.includes(k), k);
  assert.match(pkg.repository.url, /^github:[\w.-]+\/[\w.-]+$/);
  assert.equal(pkg.repository.directory, "node-shim");
  assert.ok(pkg.files.includes("images"));
  assert.equal(pkg.agentConfig.pluginType, "elizaos:plugin:1.0.0");
});

test("pluginParameters describe every setting the plugin reads, and only those", () => {
  const params = pkg.agentConfig.pluginParameters;
  assert.deepEqual(Object.keys(params).sort(), [...SETTING_NAMES].sort());
  for (const [name, p] of Object.entries(params)) {
    assert.ok(["string", "number", "boolean"].includes(p.type), `${name}.type`);
    assert.ok(typeof p.description === "string" && p.description.length >= 20, `${name}.description`);
    assert.equal(typeof p.required, "boolean", `${name}.required`);
    assert.equal(typeof p.sensitive, "boolean", `${name}.sensitive`);
  }
  assert.equal(params.SIDEKICK_API_KEY.sensitive, true);
});

test("images/logo.jpg and images/banner.jpg: sizes and byte limits, drawn by scripts/draw-images.mjs", () => {
  for (const [file, draw, width, height, maxBytes] of [
    ["images/logo.jpg", drawLogo, 400, 400, 500 * 1024],
    ["images/banner.jpg", drawBanner, 1280, 640, 1024 * 1024],
  ]) {
    const jpeg = read(file);
    assert.deepEqual(jpegSize(jpeg), { width, height }, file);
    assert.ok(jpeg.length <= maxBytes, `${file}: ${jpeg.length} bytes`);
    assert.ok(draw().equals(jpeg), `${file} is what the script draws (run npm run build:images)`);
  }
});

test("the README has the sections the registry asks for", () => {
  const readme = read("README.md").toString();
  const headings = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
  for (const section of ["Quick start", "Install", "Model providers", "Character configuration", "Using it from code", "Settings", "Troubleshooting", "Development"]) {
    assert.ok(headings.includes(section), `## ${section}`);
  }
});
