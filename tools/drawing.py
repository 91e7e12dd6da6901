"""Check that the README's import-graph drawing is the layer contract ``make lint`` enforces.

The drawing (the fenced block after the ``import graph`` marker in README.md) names one layer
per line, top to bottom, each arrow (``▼``) pointing down; this compares those names with the
``layers`` contract in ``pyproject.toml``, so the picture cannot drift from what is checked.
Exit 1 with the difference when they disagree.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "<!-- import graph: tools/drawing.py checks it against pyproject.toml -->"


def contract_layers() -> list[str]:
    """The layers of the one ``layers`` contract, as ``a | b`` strings."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    return [" | ".join(part.strip() for part in layer.split("|")) for layer in layers]


def _module(path: str) -> str:
    """``dsr/core/ops/`` or ``dsr/identity.py`` as the module name ``dsr.core.ops``."""
    return path.strip().removesuffix("/").removesuffix(".py").replace("/", ".")


def drawn_layers(readme: str) -> list[str]:
    """The layers the README's drawing names, top to bottom."""
    after = readme.split(MARKER, 1)
    if len(after) != 2:
        raise SystemExit(f"README.md: no drawing after {MARKER!r}")
    block = after[1].split("```", 2)[1]
    layers = []
    for line in block.splitlines()[1:]:  # the first is the fence's info string
        if not line.strip() or set(line.strip()) <= {"▼", "│", " "}:
            continue
        names = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        layers.append(" | ".join(_module(p) for p in names.split("|")))
    return layers


def main() -> int:
    drawn = drawn_layers((ROOT / "README.md").read_text())
    checked = contract_layers()
    if drawn == checked:
        return 0
    print("README.md's import-graph drawing differs from the layers contract:", file=sys.stderr)
    for i in range(max(len(drawn), len(checked))):
        a = drawn[i] if i < len(drawn) else "-"
        b = checked[i] if i < len(checked) else "-"
        print(f"  {'ok' if a == b else '!='}  drawn {a:<40} contract {b}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
