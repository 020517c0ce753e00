"""A small, self-contained HTML page describing the API, rendered from the merged OpenAPI document.

No script and no external resource: it works with the network closed and under a strict CSP.
"""

from __future__ import annotations

from html import escape
from typing import Any

_METHOD_ORDER = ("get", "post", "put", "patch", "delete")

_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1d2330; }
h1 { margin-bottom: 0; } .lead { color: #566; margin-top: .25rem; }
section { border: 1px solid #d8dde6; border-radius: 6px; margin: 1rem 0; padding: .75rem 1rem; }
h2 { font-size: 1.05rem; margin: 0; font-family: ui-monospace, monospace; }
.method { display: inline-block; min-width: 4.5rem; font-weight: 700; }
.get { color: #1b6f3a; } .post { color: #1f4fa3; } .put, .patch { color: #8a5a00; } .delete { color: #a32020; }
.role { float: right; font-size: .8rem; padding: .1rem .5rem; border-radius: 1rem; background: #eef1f6; }
.role.public { background: #e4f4e8; } .summary { margin: .35rem 0; font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
td, th { text-align: left; padding: .2rem .5rem; border-top: 1px solid #eef1f6; vertical-align: top; }
code { font-family: ui-monospace, monospace; font-size: .85rem; }
"""


def render_docs_page(document: dict[str, Any]) -> str:
    """The HTML page for ``document``: every route with its role, summary, description and responses."""
    info = document.get("info") or {}
    sections = [
        _operation(path, method, operation)
        for path, operations in sorted((document.get("paths") or {}).items())
        for method in _METHOD_ORDER
        if (operation := operations.get(method)) is not None
    ]
    title = escape(f"{info.get('title', 'API')} {info.get('version', '')}".strip())
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_STYLE}</style></head><body>"
        f'<h1>{title}</h1><p class="lead">{escape(info.get("description", ""))}</p>'
        '<p>The machine-readable document is at <a href="/openapi.json"><code>/openapi.json</code></a>. '
        "Routes marked with a role other than <em>public</em> need <code>Authorization: Bearer &lt;token&gt;</code>."
        "</p>" + "".join(sections) + "</body></html>\n"
    )


def _operation(path: str, method: str, operation: dict[str, Any]) -> str:
    role = str(operation.get("x-firstmile-role", "public"))
    rows = "".join(
        f"<tr><td><code>{escape(status)}</code></td><td>{escape(str(response.get('description', '')))}</td>"
        f"<td>{_content(response)}</td></tr>"
        for status, response in sorted((operation.get("responses") or {}).items())
    )
    return (
        f'<section><span class="role {escape(role)}">{escape(role)}</span>'
        f'<h2><span class="method {method}">{method.upper()}</span>{escape(path)}</h2>'
        f'<p class="summary">{escape(str(operation.get("summary", "")))}</p>'
        f"<p>{escape(str(operation.get('description', '')))}</p>"
        f"<table><tr><th>Status</th><th>Meaning</th><th>Body</th></tr>{rows}</table></section>"
    )


def _content(response: dict[str, Any]) -> str:
    parts = []
    for media_type, media in sorted((response.get("content") or {}).items()):
        ref = str((media.get("schema") or {}).get("$ref", ""))
        name = ref.rsplit("/", 1)[-1] if ref else ""
        parts.append(f"<code>{escape(media_type)}</code>" + (f" {escape(name)}" if name else ""))
    return "<br>".join(parts)
