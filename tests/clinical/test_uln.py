"""Upper limits of normal must be positive on the command line and in the library, as in
the study file."""

from __future__ import annotations

import pytest

from microtrial.cli import main
from microtrial.errors import InputError
from microtrial.pipeline.clinical import clinical_stage

CLINICAL = """subject\tvisit\tphga\tptga\tmmt8\thaq\textramuscular\tck
P1\tbaseline\t5\t6\t60\t1.5\t3\t800
P1\tweek12\t2\t3\t70\t1.0\t1\t300
"""


@pytest.mark.parametrize("value", ["-5", "0", "nan"])
def test_cli_refuses_non_positive_uln(tmp_path, capsys, value):
    (tmp_path / "clinical.tsv").write_text(CLINICAL)
    out = tmp_path / "out"
    assert main(["clinical", "--clinical", str(tmp_path / "clinical.tsv"), "--uln", f"ck={value}",
                 "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --uln: ck={value}: ")
    assert "positive" in err[0]
    assert not out.exists()


def test_stage_refuses_negative_uln(tmp_path):
    (tmp_path / "clinical.tsv").write_text(CLINICAL)
    with pytest.raises(InputError, match=r"^--uln: ck=-5: .*positive"):
        clinical_stage(tmp_path / "clinical.tsv", tmp_path / "o", uln={"ck": -5})
    assert not (tmp_path / "o").exists()
