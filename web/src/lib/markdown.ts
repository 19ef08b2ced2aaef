// The legal documents' Markdown as HTML: raw HTML in the text is escaped, never rendered, and
// markdown-it refuses script links (javascript:, vbscript:, data: but images).
import MarkdownIt from "markdown-it";

const markdown = new MarkdownIt({ html: false, linkify: true });

export function renderMarkdown(text: string): string {
  return markdown.render(text);
}
