"""`make gallery`: ask the running server for every image model's gallery requests (models.yaml `gallery:`)
and write docs/gallery/<model>-<n>.png plus docs/gallery/index.html showing each with its parameters.

    python -m genai_ops.gallery [--out docs/gallery]
"""
from __future__ import annotations

import argparse
import base64
import html
import json
import sys
from pathlib import Path

from genai_ops.registry import REPO_ROOT, load_registry
from genai_ops.server import Server


def fetch(server: Server, name: str, params: dict) -> tuple[bytes, dict]:
    r = server.call("POST", "inference", f"/predictions/{name}", data=json.dumps(params),
                    headers={"Content-Type": "application/json"}, timeout=600)
    if r.status_code != 200:
        raise SystemExit(f"{name} {params}: HTTP {r.status_code} {r.text[:200]}")
    body = r.json()
    return base64.b64decode(body["image_base64_png"]), body


def card_summary(server: Server, name: str) -> str:
    """What the served model saw in training, from the model card in its served default's archive (not from a
    customized describe, which TorchServe 0.12 cannot answer for continuous-batching models)."""
    spec = load_registry()[name]
    card = spec.archived_card(server.store, server.default_version(name) or spec.default_version)
    data = (card.get("data") or {}).get("train", card.get("data") or {})
    return f"version {card.get('version')}; trained on {data.get('source', 'unknown data')}"


def build_gallery(server: Server, out: Path) -> Path:
    """Fetch every gallery request from `server`, write the PNGs and index.html into `out`; returns the page."""
    out.mkdir(parents=True, exist_ok=True)
    sections = []
    for spec in load_registry().values():
        if not spec.gallery:
            continue
        figures = []
        for i, params in enumerate(spec.gallery):
            png, _ = fetch(server, spec.name, params)
            (out / f"{spec.name}-{i}.png").write_bytes(png)
            figures.append(f'<figure><img src="{spec.name}-{i}.png" width="276"><figcaption><code>'
                           f'{html.escape(json.dumps(params))}</code></figcaption></figure>')
            print(f"{spec.name}: {out / f'{spec.name}-{i}.png'} {params}")
        sections.append(f"<h2>{spec.name}</h2><p>{html.escape(spec.description)}<br><small>"
                        f"{html.escape(card_summary(server, spec.name))}</small></p>{''.join(figures)}")
    page = out / "index.html"
    page.write_text(
        "<!doctype html><meta charset='utf-8'><title>genai-serve gallery</title>"
        "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}figure{display:inline-block;"
        "margin:0 1em 1em 0}img{image-rendering:pixelated;border:1px solid #ccc}</style>"
        "<h1>genai-serve gallery</h1><p>Samples from the running server (<code>make gallery</code>), "
        "requested with the parameters under each image.</p>" + "".join(sections) + "\n")
    return page


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "gallery")
    args = parser.parse_args(argv)
    server = Server()
    if not server.is_up():
        print("TorchServe is not running: `make serve` first", file=sys.stderr)
        return 1
    print(f"gallery: {build_gallery(server, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
