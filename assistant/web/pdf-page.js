// The page of a PDF passage: drawn by the vendored pdf.js, with the quote highlighted over it.
// An ES module that app.js imports the first time a PDF passage is opened, so the page loads no
// PDF code until then. pdf.js runs without eval; its worker is a same-origin module script.
import { GlobalWorkerOptions, getDocument, VerbosityLevel } from "./vendor/pdfjs/pdf.min.mjs";

GlobalWorkerOptions.workerSrc = new URL("./vendor/pdfjs/pdf.worker.min.mjs", import.meta.url).href;

const GRAM = 8; // characters of a fuzzy-match anchor
const MAX_CANVAS_PIXELS = 4096; // widest canvas drawn, whatever the screen's pixel ratio

// A PDF from its bytes. pdf.js takes the buffer over, so pass one nobody else needs.
export function openDocument(bytes) {
  return getDocument({
    data: bytes,
    isEvalSupported: false, // pdf.js 6 never evaluates code; kept should an older build be vendored
    enableXfa: false,
    verbosity: VerbosityLevel.ERRORS,
  }).promise;
}

// Page `number` of `pdf` drawn `cssWidth` pixels wide, the parts of `quote` found on it marked.
// Returns {sheet, marks}: a detached element holding the canvas and the marks, and how many
// marks it holds (0 when the quote could not be found among the page's text).
export async function drawPage(pdf, number, quote, cssWidth) {
  const page = await pdf.getPage(number);
  const base = page.getViewport({ scale: 1 });
  const viewport = page.getViewport({ scale: cssWidth / base.width });
  const ratio = Math.min(window.devicePixelRatio || 1, MAX_CANVAS_PIXELS / viewport.width);
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.floor(viewport.width * ratio));
  canvas.height = Math.max(1, Math.floor(viewport.height * ratio));
  canvas.className = "pdf-canvas";
  const transform = ratio === 1 ? null : [ratio, 0, 0, ratio, 0, 0];
  const drawing = page.render({ canvas, viewport, transform }).promise;
  const [content] = await Promise.all([page.getTextContent(), drawing]);

  const sheet = document.createElement("div");
  sheet.className = "pdf-sheet";
  sheet.append(canvas);
  const rects = quoteRects(content.items, quote, viewport);
  for (const rect of rects) {
    const mark = document.createElement("div");
    mark.className = "pdf-mark";
    mark.setAttribute("aria-hidden", "true");
    // In percent of the page, so the marks stay on their words whatever width the page is shown at.
    mark.style.left = `${(100 * rect.left) / viewport.width}%`;
    mark.style.top = `${(100 * rect.top) / viewport.height}%`;
    mark.style.width = `${(100 * rect.width) / viewport.width}%`;
    mark.style.height = `${(100 * rect.height) / viewport.height}%`;
    sheet.append(mark);
  }
  page.cleanup();
  return { sheet, marks: rects.length };
}

// -- finding the quote among the page's text items -----------------------------------------
// Both sides are folded to lower-case letters and digits only (accents, spaces, punctuation and
// hyphens dropped), so line breaks, hyphenation and ligatures in the PDF do not matter. Each
// folded character of the page remembers the item and the offset it came from.
function fold(text) {
  return text.normalize("NFKD").replace(/[^\p{L}\p{N}]/gu, "").toLowerCase();
}

function foldItems(items) {
  let chars = "";
  const item = [];
  const from = [];
  const to = [];
  items.forEach((entry, index) => {
    if (typeof entry.str !== "string") return; // a marked-content boundary, not text
    let offset = 0;
    for (const ch of entry.str) {
      for (const folded of fold(ch)) {
        chars += folded;
        item.push(index);
        from.push(offset);
        to.push(offset + ch.length);
      }
      offset += ch.length;
    }
  });
  return { chars, item, from, to };
}

// Which folded page characters are the quote's: [start, end) ranges, or [] when it is not there.
// An exact match first; else the quote's character 8-grams that occur once on the page, the
// longest run of them in the same order on both sides, and the short gaps between them (a
// character read differently) — not the long ones (a running header the quote does not have).
function quoteRanges(pageChars, quoteChars) {
  if (!quoteChars) return [];
  const exact = pageChars.indexOf(quoteChars);
  if (exact >= 0) return [[exact, exact + quoteChars.length]];
  if (quoteChars.length < GRAM * 2) return [];

  const seen = new Map();
  for (let p = 0; p + GRAM <= pageChars.length; p += 1) {
    const gram = pageChars.slice(p, p + GRAM);
    seen.set(gram, seen.has(gram) ? -1 : p);
  }
  const anchors = []; // [quote position, page position]
  for (let q = 0; q + GRAM <= quoteChars.length; q += 1) {
    const p = seen.get(quoteChars.slice(q, q + GRAM));
    if (p !== undefined && p >= 0) anchors.push([q, p]);
  }
  const chain = longestIncreasing(anchors);
  let covered = 0;
  let reach = 0; // quote characters up to here are covered by the chain so far
  for (const [q] of chain) {
    covered += q + GRAM - Math.max(q, reach);
    reach = q + GRAM;
  }
  if (covered < Math.min(quoteChars.length * 0.4, 80)) return [];

  const ranges = []; // [start, end, anchors in it]
  let previous = null;
  for (const [q, p] of chain) {
    const extra = previous ? p - previous[1] - (q - previous[0]) : Infinity; // page text not quoted
    const open = ranges[ranges.length - 1];
    if (extra <= 3) {
      open[1] = p + GRAM;
      open[2] += 1;
    } else {
      ranges.push([p, p + GRAM, 1]);
    }
    previous = [q, p];
  }
  // A lone anchor is a chance likeness elsewhere on the page: a quoted stretch has several.
  const kept = ranges.length > 1 ? ranges.filter((range) => range[2] > 1) : ranges;
  return kept.map(([start, end]) => [start, end]);
}

// The longest chain of anchors increasing in both positions (anchors come sorted by the first).
function longestIncreasing(anchors) {
  const tails = []; // index of the anchor ending the best chain of each length
  const before = new Array(anchors.length).fill(-1);
  anchors.forEach(([, p], index) => {
    let low = 0;
    let high = tails.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (anchors[tails[middle]][1] < p) low = middle + 1;
      else high = middle;
    }
    if (low > 0) before[index] = tails[low - 1];
    tails[low] = index;
  });
  const chain = [];
  for (let index = tails.length ? tails[tails.length - 1] : -1; index >= 0; index = before[index]) {
    chain.push(anchors[index]);
  }
  return chain.reverse();
}

// Which characters of which text items make up `quote`: item index -> [from, to) in its `str`.
export function quoteSpans(items, quote) {
  const page = foldItems(items);
  const spans = new Map(); // item index -> [first offset, last offset] of its quoted characters
  for (const [start, end] of quoteRanges(page.chars, fold(quote))) {
    for (let k = start; k < end; k += 1) {
      const span = spans.get(page.item[k]);
      if (span) {
        span[0] = Math.min(span[0], page.from[k]);
        span[1] = Math.max(span[1], page.to[k]);
      } else {
        spans.set(page.item[k], [page.from[k], page.to[k]]);
      }
    }
  }
  return spans;
}

// Rectangles in viewport (CSS pixel) coordinates over the page text that makes up `quote`.
function quoteRects(items, quote, viewport) {
  const rects = [];
  for (const [index, [from, to]] of quoteSpans(items, quote)) {
    const rect = itemRect(items[index], from, to, viewport);
    if (rect) rects.push(rect);
  }
  return mergeLines(rects);
}

let measurer = null;
function widthOf(text) {
  measurer ||= document.createElement("canvas").getContext("2d");
  measurer.font = "100px sans-serif";
  return measurer.measureText(text).width;
}

// The box of characters [from, to) of a text item: along the item's baseline, from a little
// below it to about the font's ascent, mapped through the viewport (which handles rotation).
function itemRect(item, from, to, viewport) {
  const [a, b, c, d, e, f] = item.transform;
  const run = Math.hypot(a, b);
  const rise = Math.hypot(c, d);
  const height = item.height || rise;
  if (!run || !rise || !height || !item.width) return null;
  const whole = widthOf(item.str);
  const share = (offset) =>
    whole ? widthOf(item.str.slice(0, offset)) / whole : offset / item.str.length;
  const x0 = share(from) * item.width;
  const x1 = share(to) * item.width;
  const [ux, uy, vx, vy] = [a / run, b / run, c / rise, d / rise];
  const corners = [];
  for (const along of [x0, x1]) {
    for (const up of [-0.25 * height, 0.9 * height]) {
      const x = e + ux * along + vx * up;
      const y = f + uy * along + vy * up;
      corners.push(viewport.convertToViewportPoint(x, y));
    }
  }
  const xs = corners.map(([x]) => x);
  const ys = corners.map(([, y]) => y);
  const box = { left: Math.min(...xs), top: Math.min(...ys) };
  box.width = Math.max(...xs) - box.left;
  box.height = Math.max(...ys) - box.top;
  return box.width > 0 && box.height > 0 ? box : null;
}

// Neighbouring boxes of one line become one, so overlapping marks do not darken each other.
function mergeLines(rects) {
  const sorted = [...rects].sort((r, s) => r.top - s.top || r.left - s.left);
  const merged = [];
  for (const rect of sorted) {
    const line = merged.find(
      (m) =>
        Math.abs(m.top - rect.top) < m.height * 0.3 &&
        Math.abs(m.height - rect.height) < m.height * 0.3 &&
        rect.left <= m.left + m.width + m.height &&
        m.left <= rect.left + rect.width + m.height,
    );
    if (!line) {
      merged.push({ ...rect });
      continue;
    }
    const right = Math.max(line.left + line.width, rect.left + rect.width);
    const bottom = Math.max(line.top + line.height, rect.top + rect.height);
    line.left = Math.min(line.left, rect.left);
    line.top = Math.min(line.top, rect.top);
    line.width = right - line.left;
    line.height = bottom - line.top;
  }
  return merged;
}
