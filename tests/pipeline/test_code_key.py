"""The engine's cache keys include the stage's code: editing a stage's source (in a copy of
the package) changes that stage's key and the keys of the stages reading its results, and
no other.

Which stage uses which module is stated here by hand from the package layout (denoising
never imports diversity; the report does not import the stages' packages), not read back
from the fingerprint code under test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from microtrial.pipeline._engine import SOURCE_ROOT, Engine, code_fingerprint

STAGES = ("denoise", "classify", "tree", "clinical", "diversity", "differential", "associations",
          "function")


def _modules(stage: str) -> tuple[str, ...]:
    return ("microtrial.report",) if stage == "report" else (f"microtrial.pipeline.{stage}",)


def _copy(dest: Path) -> Path:
    root = dest / "microtrial"
    shutil.copytree(SOURCE_ROOT, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _copy(tmp_path_factory.mktemp("pristine"))


def _touched(pristine: Path, tmp: Path, rel: str, text: str = "\n# edited\n") -> Path:
    root = tmp / "microtrial"
    shutil.copytree(pristine, root)
    with open(root / rel, "a", encoding="utf-8") as fh:
        fh.write(text)
    return root


def _fingerprints(root: Path) -> dict[str, str]:
    return {s: code_fingerprint(_modules(s), root) for s in (*STAGES, "report")}


def test_same_source_same_fingerprint_anywhere(pristine: Path, tmp_path: Path) -> None:
    other = tmp_path / "microtrial"
    shutil.copytree(pristine, other)
    assert _fingerprints(other) == _fingerprints(pristine)
    assert len(set(_fingerprints(pristine).values())) == len(STAGES) + 1  # each its own code


@pytest.mark.parametrize(
    ("rel", "changed"),
    [
        ("diversity/_beta.py", {"diversity"}),  # a private module of the stage's package
        ("pipeline/diversity.py", {"diversity"}),  # the stage's pipeline module
        ("denoise/_merge.py", {"denoise"}),
        ("clinical/_response.py", {"clinical", "associations", "function"}),  # relative import
        ("report/_build.py", {"report"}),
        ("function/data/README.md", {"function"}),  # a package data file
        ("names.py", {*STAGES, "report"}),  # core: every stage asks it
        ("errors.py", {*STAGES, "report"}),
        ("__init__.py", {*STAGES, "report"}),  # the version lives here
    ],
)
def test_editing_a_module_changes_the_stages_using_it(pristine: Path, tmp_path: Path, rel: str,
                                                     changed: set[str]) -> None:
    before = _fingerprints(pristine)
    after = _fingerprints(_touched(pristine, tmp_path, rel))
    assert {s for s in before if before[s] != after[s]} == changed


def test_a_new_function_level_import_is_followed(pristine: Path, tmp_path: Path) -> None:
    """Tree building does not use the diversity package; a lazy import inside a function
    makes it part of the tree stage's code."""
    lazy = "\n\ndef _later():\n    from microtrial.diversity import _beta  # noqa: F401\n"
    touched = _touched(pristine, tmp_path / "a", "pipeline/tree.py", lazy)
    both = _touched(touched, tmp_path / "b", "diversity/_beta.py")
    assert code_fingerprint(_modules("tree"), touched) != code_fingerprint(_modules("tree"), both)
    plain = _touched(pristine, tmp_path / "c", "diversity/_beta.py")
    assert code_fingerprint(_modules("tree"), pristine) == code_fingerprint(_modules("tree"), plain)


def _graph(out: Path, root: Path) -> dict[str, str]:
    """denoise -> diversity -> report (which reads both results): statuses."""
    engine = Engine(out, code_root=root)

    def write(name: str, text: str):  # noqa: ANN202
        return lambda folder: (folder / name).write_text(text)

    den = engine.run("denoise", write("table.tsv", "#id\ts1\nasv1\t3\n"), inputs={}, options={"x": 1})
    div = engine.run("diversity", write("alpha.tsv", "s1\t1.0\n"),
                     inputs={"table": den.path("table.tsv")}, options={"permutations": 9})
    engine.run("report", write("report.txt", "ok\n"), inputs={"stages": [den, div]}, options={},
               code=("microtrial.report",))
    return {r["name"]: r["status"] for r in engine.records()}


def test_engine_reruns_an_edited_stage_and_its_dependants_only(pristine: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _graph(out, pristine) == {"denoise": "ran", "diversity": "ran", "report": "ran"}
    assert _graph(out, pristine) == {"denoise": "cached", "diversity": "cached", "report": "cached"}
    # diversity's code edited: it runs again, and the report that reads its result
    div = _touched(pristine, tmp_path / "div", "diversity/_beta.py")
    assert _graph(out, div) == {"denoise": "cached", "diversity": "ran", "report": "ran"}
    # denoising's code edited, its table unchanged: diversity (keyed by the table's bytes)
    # is reused, the report (keyed by its upstream stages' keys) runs
    den = _touched(pristine, tmp_path / "den", "denoise/_merge.py")
    assert _graph(out, den) == {"denoise": "ran", "diversity": "cached", "report": "ran"}
    # back to the original code: every result is still in the cache
    assert _graph(out, pristine) == {"denoise": "cached", "diversity": "cached", "report": "cached"}
