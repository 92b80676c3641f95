"""`microtrial function --genus-traits`: a genus-level EC table on the genus route gives
MetaCyc pathways with the packaged maps, only where a carrier is present; bad input is one
error line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from tests.cli_checks import one_error

from microtrial.cli import main
from microtrial.function import packaged_map_lines, parse_pathway_map, parse_regroup_map
from microtrial.function._genus import PACKAGED_PATHWAY_MAP, PACKAGED_REGROUP_MAP

ROSEBURIA = "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Lachnospiraceae; g__Roseburia"
BACTEROIDES = "k__Bacteria; p__Bacteroidetes; c__Bacteroidia; o__Bacteroidales; f__Bacteroidaceae; g__Bacteroides"


def _ecs(pathway: str) -> list[str]:
    """Every EC whose reactions include one of the pathway's reactions (packaged maps)."""
    rxns = set(parse_pathway_map(packaged_map_lines(PACKAGED_PATHWAY_MAP)).reactions[pathway])
    regroup = parse_regroup_map(packaged_map_lines(PACKAGED_REGROUP_MAP))
    return sorted(ec for ec, rx in regroup.items() if rxns & set(rx))


def _inputs(tmp: Path) -> dict[str, Path]:
    butyrate, glycolysis = _ecs("CENTFERM-PWY"), _ecs("GLYCOLYSIS")
    cols = sorted(set(butyrate) | set(glycolysis))
    traits = pd.DataFrame(0, index=pd.Index(["Roseburia", "Bacteroides"], name="genus"),
                          columns=cols)
    traits.loc["Roseburia", butyrate] = 1
    traits.loc["Bacteroides", glycolysis] = 1
    traits.columns = [c.removeprefix("EC:") for c in cols]  # unprefixed ids work too
    paths = {"traits": tmp / "genus-traits.tsv", "table": tmp / "table.tsv",
             "taxonomy": tmp / "taxonomy.tsv"}
    with open(paths["traits"], "w") as fh:
        fh.write("# hand-made for a test\n")
        traits.to_csv(fh, sep="\t")
    paths["table"].write_text("#OTU ID\tS1\tS2\nr1\t40\t0\nb1\t10\t30\n")
    paths["taxonomy"].write_text(f"Feature ID\tTaxon\nr1\t{ROSEBURIA}\nb1\t{BACTEROIDES}\n")
    return paths


def test_genus_traits_give_pathways_where_their_carrier_is(tmp_path: Path) -> None:
    p = _inputs(tmp_path)
    out = tmp_path / "out"
    assert main(["function", "--table", str(p["table"]), "--taxonomy", str(p["taxonomy"]),
                 "--genus-traits", str(p["traits"]), "-o", str(out)]) == 0
    paths = pd.read_csv(out / "pathway-abundance.tsv", sep="\t", index_col=0)
    assert paths.loc["CENTFERM-PWY", "S1"] > 0 and paths.loc["CENTFERM-PWY", "S2"] == 0
    assert paths.loc["GLYCOLYSIS", "S1"] > 0 and paths.loc["GLYCOLYSIS", "S2"] > 0
    ec = pd.read_csv(out / "asv-ec-predictions.tsv", sep="\t", index_col=0)
    assert set(ec.index) == {"r1", "b1"} and all(c.startswith("EC:") for c in ec.columns[1:])
    info = json.loads((out / "run-info.json").read_text())
    assert info["route"] == "genus-trait-table"
    assert info["genus_traits_note"] == "hand-made for a test"
    assert info["genus_traits_simulated"] is False
    assert (out / "function" / "pathways_out" / "path_abun_unstrat_descrip.tsv.gz").is_file()


@pytest.mark.parametrize("case", ["no-names", "with-reference", "no-maps-folder"])
def test_genus_traits_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                case: str) -> None:
    p = _inputs(tmp_path)
    out = tmp_path / "out"
    argv = ["function", "--table", str(p["table"]), "--taxonomy", str(p["taxonomy"]),
            "--genus-traits", str(p["traits"]), "-o", str(out)]
    if case == "no-names":
        p["traits"].write_text("genus\tEC:1.1.1.1\nAkkermansia\t1\n")
        assert "no ASV's genus, family or order" in one_error(capsys, argv, out=out,
                                                              allow_warnings=True)
    elif case == "with-reference":
        ref = tmp_path / "ref"
        ref.mkdir()
        assert "goes with the genus route" in one_error(
            capsys, [*argv, "--reference", str(ref), "--sequences", str(p["table"])], out=out)
    else:
        assert "no such folder" in one_error(capsys, [*argv, "--pathway-maps",
                                                      str(tmp_path / "none")], out=out)
