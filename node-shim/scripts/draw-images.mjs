// Draws the elizaOS registry images: images/logo.jpg (400×400) and images/banner.jpg (1280×640).
//   node scripts/draw-images.mjs [--out DIR]
// The same script always draws the same bytes, so a test can tell the files are its output.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { encodeJpeg } from "./jpeg.mjs";

const NAVY = [15, 23, 42];
const SLATE = [30, 41, 59];
const BLUE = [55, 118, 171];
const YELLOW = [255, 212, 59];
const WHITE = [241, 245, 249];
const GREY = [148, 163, 184];

/** An RGB canvas with the few shapes the images need, edges anti-aliased by coverage. */
class Canvas {
  constructor(width, height) {
    this.width = width;
    this.height = height;
    this.rgb = new Uint8Array(width * height * 3);
  }

  /** Paints every pixel with `shade(x, y)` → [r, g, b]. */
  fill(shade) {
    for (let y = 0; y < this.height; y++) for (let x = 0; x < this.width; x++) this.rgb.set(shade(x, y), (y * this.width + x) * 3);
  }

  /** Blends `color` where `distance(x, y)` (negative inside the shape) is below zero, within `box`. */
  shape(color, [x0, y0, x1, y1], distance) {
    for (let y = Math.max(0, Math.floor(y0)); y < Math.min(this.height, Math.ceil(y1)); y++) {
      for (let x = Math.max(0, Math.floor(x0)); x < Math.min(this.width, Math.ceil(x1)); x++) {
        const alpha = Math.min(1, Math.max(0, 0.5 - distance(x + 0.5, y + 0.5)));
        if (!alpha) continue;
        const p = (y * this.width + x) * 3;
        for (let c = 0; c < 3; c++) this.rgb[p + c] = Math.round(this.rgb[p + c] * (1 - alpha) + color[c] * alpha);
      }
    }
  }

  circle(cx, cy, r, color) {
    this.shape(color, [cx - r - 1, cy - r - 1, cx + r + 1, cy + r + 1], (x, y) => Math.hypot(x - cx, y - cy) - r);
  }

  /** A line from (ax, ay) to (bx, by) with round ends, `width` thick. */
  line(ax, ay, bx, by, width, color) {
    const pad = width + 1;
    const [dx, dy] = [bx - ax, by - ay];
    const len2 = dx * dx + dy * dy;
    this.shape(color, [Math.min(ax, bx) - pad, Math.min(ay, by) - pad, Math.max(ax, bx) + pad, Math.max(ay, by) + pad], (x, y) => {
      const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / len2));
      return Math.hypot(x - ax - t * dx, y - ay - t * dy) - width / 2;
    });
  }

  /** Text in a 5×7 dot font; `dot` is the distance between dot centres. */
  text(str, x, y, dot, color) {
    for (const ch of str) {
      const rows = FONT[ch] ?? FONT[" "];
      rows.forEach((row, j) => {
        for (let i = 0; i < 5; i++) if (row[i] === "1") this.circle(x + i * dot + dot / 2, y + j * dot + dot / 2, dot * 0.42, color);
      });
      x += dot * 6;
    }
  }
}

const FONT = Object.fromEntries(
  Object.entries({
    " ": "00000 00000 00000 00000 00000 00000 00000",
    "-": "00000 00000 00000 11111 00000 00000 00000",
    A: "01110 10001 10001 11111 10001 10001 10001",
    C: "01110 10001 10000 10000 10000 10001 01110",
    D: "11110 10001 10001 10001 10001 10001 11110",
    E: "11111 10000 10000 11110 10000 10000 11111",
    F: "11111 10000 10000 11110 10000 10000 10000",
    G: "01110 10001 10000 10111 10001 10001 01111",
    H: "10001 10001 10001 11111 10001 10001 10001",
    I: "01110 00100 00100 00100 00100 00100 01110",
    J: "00111 00010 00010 00010 00010 10010 01100",
    K: "10001 10010 10100 11000 10100 10010 10001",
    L: "10000 10000 10000 10000 10000 10000 11111",
    N: "10001 10001 11001 10101 10011 10001 10001",
    O: "01110 10001 10001 10001 10001 10001 01110",
    P: "11110 10001 10001 11110 10000 10000 10000",
    R: "11110 10001 10001 11110 10100 10010 10001",
    S: "01111 10000 10000 01110 00001 00001 11110",
    T: "11111 00100 00100 00100 00100 00100 00100",
    U: "10001 10001 10001 10001 10001 10001 01110",
    V: "10001 10001 10001 10001 10001 01010 00100",
    Y: "10001 10001 01010 00100 00100 00100 00100",
    Z: "11111 00001 00010 00100 01000 10000 11111",
  }).map(([ch, rows]) => [ch, rows.split(" ")]),
);

const mix = (a, b, t) => a.map((v, i) => Math.round(v + (b[i] - v) * t));

/** The mark: a blue and a yellow disc (Python's colours) overlapping, with a prompt `>_` on top. */
function drawMark(canvas, cx, cy, size) {
  const r = size * 0.3;
  canvas.circle(cx - size * 0.12, cy - size * 0.12, r, BLUE);
  canvas.circle(cx + size * 0.12, cy + size * 0.12, r, YELLOW);
  const w = size * 0.07;
  canvas.line(cx - size * 0.2, cy - size * 0.14, cx - size * 0.04, cy, w, NAVY);
  canvas.line(cx - size * 0.04, cy, cx - size * 0.2, cy + size * 0.14, w, NAVY);
  canvas.line(cx + size * 0.04, cy + size * 0.14, cx + size * 0.2, cy + size * 0.14, w, NAVY);
}

export function drawLogo() {
  const canvas = new Canvas(400, 400);
  canvas.fill((x, y) => mix(SLATE, NAVY, Math.min(1, Math.hypot(x - 200, y - 200) / 280)));
  drawMark(canvas, 200, 200, 400);
  return encodeJpeg(canvas.rgb, canvas.width, canvas.height);
}

export function drawBanner() {
  const canvas = new Canvas(1280, 640);
  canvas.fill((x, y) => mix(SLATE, NAVY, Math.min(1, (x + y * 0.5) / 1400)));
  drawMark(canvas, 300, 320, 420);
  canvas.text("PYTHON", 560, 190, 13, WHITE);
  canvas.text("SIDEKICK", 560, 300, 13, YELLOW);
  canvas.text("TOOL-CALLING LOOP FOR ELIZAOS", 562, 430, 4, GREY);
  canvas.text("JSON-RPC OVER STDIO", 562, 470, 4, GREY);
  return encodeJpeg(canvas.rgb, canvas.width, canvas.height);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: "string", default: fileURLToPath(new URL("../images", import.meta.url)) } } });
  mkdirSync(values.out, { recursive: true });
  for (const [name, draw] of [["logo.jpg", drawLogo], ["banner.jpg", drawBanner]]) {
    const jpeg = draw();
    writeFileSync(join(values.out, name), jpeg);
    console.log(`${join(values.out, name)}: ${jpeg.length} bytes`);
  }
}
