"""Each list of names exists once (microtrial.names): no other module spells a registry out.

Read from the source with ``ast``: a tuple, list or set of string literals (or a
comma-separated string) holding exactly the names of one of ``microtrial.names``' lists is
a second copy that can drift. Known copies are listed by name, each owned by the module that
has to take its list from ``microtrial.names``; a fixed one must be taken off the list.
"""

from __future__ import annotations

import ast
import typing
from pathlib import Path

from microtrial import names
from microtrial.denoise import DenoiseSettings

SRC = Path(__file__).resolve().parents[2] / "src" / "microtrial"
KNOWN_COPIES: set[tuple[str, str]] = set()


def _lists() -> dict[str, set[str]]:
    return {k: set(v) for k, v in vars(names).items()
            if k.isupper() and isinstance(v, tuple | frozenset) and len(v) > 1}


def _copies(root: Path = SRC) -> set[tuple[str, str]]:
    lists = _lists()
    found = set()
    for path in sorted(root.rglob("*.py")):
        if path == SRC / "names.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            values: set[str] | None = None
            if isinstance(node, ast.Tuple | ast.List | ast.Set) and len(node.elts) > 1 and all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
                values = {e.value for e in node.elts}  # type: ignore[attr-defined]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "," in node.value:
                values = {v.strip() for v in node.value.split(",")}
            if values:
                found |= {(path.relative_to(root).as_posix(), k) for k, v in lists.items() if values == v}
    return found


def test_the_scan_finds_a_spelled_out_registry(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text('X = ("all", "none", "pseudo")\nY = ["none", "pseudo"]\n')
    (tmp_path / "b.py").write_text('def f(m="braycurtis,jaccard,unweighted_unifrac,'
                                   'weighted_unifrac,aitchison"): ...\n')
    assert _copies(tmp_path) == {("a.py", "POOL_METHODS"), ("b.py", "DEFAULT_BETA_METRICS")}


def test_no_module_spells_out_a_registry() -> None:
    copies = _copies()
    assert copies <= KNOWN_COPIES, sorted(copies - KNOWN_COPIES)
    assert copies == KNOWN_COPIES, f"fixed, take off KNOWN_COPIES: {sorted(KNOWN_COPIES - copies)}"


def test_layers_offer_the_registry_names() -> None:
    pool = DenoiseSettings.model_fields["pool"].annotation
    assert typing.get_args(pool) == names.POOL_METHODS
    from microtrial.cli.denoise import command as denoise_command
    from microtrial.cli.diversity import command as diversity_command

    options = {p.name: p for p in (*denoise_command.params, *diversity_command.params)}
    assert tuple(options["pool"].type.choices) == names.POOL_METHODS  # type: ignore[attr-defined]
    assert options["metrics"].default == ",".join(names.DEFAULT_BETA_METRICS)
