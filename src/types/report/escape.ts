/** Text from a bundle made safe for a report page: HTML and Markdown. Pure, no I/O. */

import { escapeControls } from "../terminal-text.js";

const HTML_ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Any text for an HTML element or attribute: markup characters as entities, controls shown. */
export function escapeHtml(text: string): string {
  return escapeControls(text).replace(/[&<>"']/g, (c) => HTML_ENTITIES[c] ?? c);
}

/**
 * Text for a Markdown table cell or line: HTML and Markdown syntax characters escaped so a name
 * cannot open a link, an image, a tag or a new cell; controls (newlines too) shown as escapes.
 */
export function escapeMarkdown(text: string): string {
  return escapeHtml(text).replace(/[\\`*_[\]|~]/g, (c) => `\\${c}`);
}
