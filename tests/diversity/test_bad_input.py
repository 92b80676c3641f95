"""Bad input to ``microtrial diversity``: one ``error:`` line naming the file or option,
exit status 2, and no output folder left behind."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from diversity_inputs import golden_paired, write_inputs

from cli_checks import one_error
from microtrial.cli import main
from microtrial.errors import InputError
from microtrial.pipeline.diversity import diversity_stage


def _inputs(tmp_path: Path) -> tuple[Path, Path]:
    t, m = golden_paired()
    m["age"] = [30 + i % 9 for i in range(len(m))]
    return write_inputs(tmp_path, t, m)


def _tree(tmp_path: Path, first_tip: str = "OTU01") -> Path:
    text = f"{first_tip}:1"
    for i in range(2, 41):
        text = f"({text},OTU{i:02d}:{0.5 + i / 40}):0.3"
    path = tmp_path / "tree.nwk"
    path.write_text(text + ";\n")
    return path


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str, table: Path | None = None) -> str:
    """Run the command; check exit status 2, one error line and no output; return the line."""
    tp, mp = _inputs(tmp_path)
    out = tmp_path / "out"
    return one_error(capsys, ["diversity", "--table", str(table or tp), "--metadata", str(mp),
                              "--permutations", "0", *args, "-o", str(out)], out=out, allow_warnings=True)


@pytest.mark.parametrize("design", [["--subject", "subject", "--time", "time"], ["--group", "group"]])
def test_misspelt_covariate_names_the_metadata(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               design: list[str]) -> None:
    line = _run(tmp_path, capsys, *design, "--covariates", "agee")
    mp = tmp_path / "metadata.tsv"
    assert line.startswith(f"error: {mp}: no column 'agee' (--covariates); columns are ")
    assert "age" in line.split("columns are ")[1]


def test_stage_checks_every_column_before_writing(tmp_path: Path) -> None:
    tp, mp = _inputs(tmp_path)
    for kw in ({"group_columns": ("arm",)}, {"subject": "patient"}, {"healthy": ("cohort", "control")},
               {"covariates": ("age", "bmi")}):
        with pytest.raises(InputError, match="no column") as exc:
            diversity_stage(tp, mp, tmp_path / "o", rarefy=None, permutations=0, **kw)  # type: ignore[arg-type]
        assert exc.value.path == str(mp)
    assert not (tmp_path / "o").exists()


def test_tree_without_the_features_names_the_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = _tree(tmp_path, first_tip="OTHER")
    line = _run(tmp_path, capsys, "--tree", str(tree))
    assert line == f"error: {tree}: 1 feature(s) are not tips of the tree, e.g. OTU01"


@pytest.mark.parametrize(("args", "start"), [
    (["--metrics", ","], "error: --metrics: no beta metric given"),
    (["--metrics", "braycurtis,bray"], "error: --metrics: unknown beta metric(s) ['bray']"),
    (["--metrics", "braycurtis,unweighted_unifrac"], "error: --tree: unweighted_unifrac needs a phylogenetic tree"),
    (["--healthy", "group=healthy"], "error: --healthy: level 'healthy' is not in column 'group' (control, patient)"),
    (["--rarefaction-iterations", "0"], "error: --rarefaction-iterations: must be >= 1"),
])
def test_bad_options_are_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                start: str) -> None:
    assert _run(tmp_path, capsys, *args).startswith(start)


def test_default_metrics_without_tree_skip_unifrac(tmp_path: Path) -> None:
    tp, mp = _inputs(tmp_path)
    out = tmp_path / "out"
    assert main(["diversity", "--table", str(tp), "--metadata", str(mp), "--permutations", "0",
                 "--rarefy", "none", "-o", str(out)]) == 0
    assert (out / "beta-braycurtis.tsv").exists() and not (out / "beta-unweighted_unifrac.tsv").exists()


@pytest.mark.parametrize("rarefy", ["auto", "none"])
def test_non_integer_counts_name_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           rarefy: str) -> None:
    tp, _ = _inputs(tmp_path)
    t = pd.read_csv(tp, sep="\t", index_col=0).astype(float)
    t.iloc[0, 0] += 0.5
    frac = tmp_path / "fractional.tsv"
    t.to_csv(frac, sep="\t")
    line = _run(tmp_path, capsys, "--rarefy", rarefy, table=frac)
    assert line.startswith(f"error: {frac}: counts must be whole numbers (reads), but 1 are not")
