"""One report structure, written twice: Markdown (figures beside it) and a single
self-contained HTML page (figures inlined) that can be mailed or published as is."""

from __future__ import annotations

import base64
import html
from pathlib import Path


class Page:
    """A report as a list of blocks, rendered to Markdown and to self-contained HTML."""

    def __init__(self, title: str):
        self.title = title
        self.blocks: list[tuple] = []  # (kind, *content): ("h", level, text), ("p", text), ("table", header, rows)...

    def heading(self, text, level=2):
        self.blocks.append(("h", level, text))

    def para(self, text):
        self.blocks.append(("p", text))

    def table(self, header, rows):
        self.blocks.append(("table", header, rows))

    def bullets(self, items: list[str]):
        self.blocks.append(("ul", items))

    def image(self, path: Path, alt: str, width: int | None = None):
        self.blocks.append(("img", path, alt, width))

    def images(self, items: list[tuple[Path, str]]):
        self.blocks.append(("imgs", items))

    def code(self, text, lang=""):
        self.blocks.append(("pre", text, lang))

    def markdown(self, base: Path) -> str:
        lines = [f"# {self.title}", ""]
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                lines += ["#" * block[1] + " " + block[2], ""]
            elif kind == "p":
                lines += [block[1], ""]
            elif kind == "table":
                header, rows = block[1], block[2]
                lines.append("| " + " | ".join(str(h).replace("|", "\\|") for h in header) + " |")
                lines.append("|" + "|".join("---" for _ in header) + "|")
                lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
                lines.append("")
            elif kind == "ul":
                lines += [f"- {item}" for item in block[1]] + [""]
            elif kind == "img":
                lines += [f"![{block[2]}]({block[1].relative_to(base).as_posix()})", ""]
            elif kind == "imgs":
                lines += [" ".join(f"![{alt}]({p.relative_to(base).as_posix()})" for p, alt in block[1]), ""]
            elif kind == "pre":
                lines += [f"```{block[2]}", block[1].rstrip(), "```", ""]
        return "\n".join(lines)

    def html(self) -> str:
        def img(path: Path, alt: str, width=None) -> str:
            data = base64.b64encode(path.read_bytes()).decode()
            size = f' style="max-width:{width}px"' if width else ""
            mime = "image/jpeg" if path.suffix == ".jpg" else "image/png"
            return (
                f'<figure><img src="data:{mime};base64,{data}" alt="{html.escape(alt)}"{size}>'
                f"<figcaption>{html.escape(alt)}</figcaption></figure>"
            )

        body = [f"<h1>{html.escape(self.title)}</h1>"]
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                body.append(f"<h{block[1]}>{html.escape(block[2])}</h{block[1]}>")
            elif kind == "p":
                body.append(f"<p>{_inline(block[1])}</p>")
            elif kind == "table":
                head = "".join(f"<th>{html.escape(str(h))}</th>" for h in block[1])

                def cell(c) -> str:  # long text (reasons, sources, settings) wraps instead of widening
                    text = str(c)
                    return (
                        f"<td class='wrap'>{html.escape(text)}</td>"
                        if len(text) > 28
                        else f"<td>{html.escape(text)}</td>"
                    )

                rows = "".join("<tr>" + "".join(cell(c) for c in row) + "</tr>" for row in block[2])
                body.append(
                    f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"
                )
            elif kind == "ul":
                body.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in block[1]) + "</ul>")
            elif kind == "img":
                body.append(img(block[1], block[2], block[3]))
            elif kind == "imgs":
                body.append("<div class='gallery'>" + "".join(img(p, alt, 220) for p, alt in block[1]) + "</div>")
            elif kind == "pre":
                body.append(f"<pre>{html.escape(block[1])}</pre>")
        return HTML_TEMPLATE.format(title=html.escape(self.title), body="\n".join(body))


def _inline(text: str) -> str:
    """Markdown's `code` and **bold** in a paragraph, for the HTML page."""
    import re

    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1400px;
       padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }}
h1 {{ border-bottom: 2px solid #ddd; padding-bottom: .3rem; }}
h2 {{ margin-top: 2.2rem; border-bottom: 1px solid #eee; }}
table {{ border-collapse: collapse; font-size: .82rem; margin: .6rem 0; }}
th, td {{ border: 1px solid #d0d0d0; padding: .25rem .4rem; text-align: right; white-space: nowrap; }}
th {{ white-space: normal; vertical-align: bottom; }}
td.wrap {{ white-space: normal; text-align: left; min-width: 12rem; }}
th {{ background: #f3f4f6; }}
td:first-child, td:nth-child(2), th:first-child, th:nth-child(2) {{ text-align: left; }}
tr:nth-child(even) td {{ background: #fafafa; }}
.scroll {{ overflow-x: auto; }}
figure {{ display: inline-block; margin: .4rem; text-align: center; vertical-align: top; }}
figure img {{ max-width: 100%; border: 1px solid #e5e5e5; }}
figcaption {{ font-size: .75rem; color: #555; max-width: 900px; margin: auto; }}
.gallery figcaption {{ max-width: 220px; }}
.gallery {{ display: flex; flex-wrap: wrap; }}
pre {{ background: #f6f8fa; padding: .8rem; overflow-x: auto; font-size: .8rem; }}
code {{ background: #f0f0f0; padding: 0 .2rem; }}
</style></head>
<body>
{body}
<script>
// Marks the page once every figure has loaded, so a headless browser can check it.
window.addEventListener("load", () => {{
  const images = Array.from(document.images);
  const ok = images.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.imagesLoaded = ok + "/" + images.length;
  // Tables wider than their box would hide their rightmost columns behind a scroll bar.
  const boxes = Array.from(document.querySelectorAll(".scroll"));
  document.body.dataset.tablesCut = boxes.filter(b => b.scrollWidth > b.clientWidth + 1).length;
}});
</script>
</body></html>
"""
