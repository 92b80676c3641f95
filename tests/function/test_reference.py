"""PICRUSt2 reference folders and trait tables."""

from __future__ import annotations

import gzip
import shutil

import pytest

from microtrial.errors import InputError
from microtrial.function import load_reference, read_trait_table


@pytest.mark.requires_shared
def test_domain_and_default_files_folders(shared_data):
    root = shared_data / "picrust2-ref"
    arc = load_reference(root / "archaea")
    assert arc.name == "arc_ref" and arc.fna.name == "arc_ref.fna"
    assert {"ko", "ec", "16S", "cazy"} <= set(arc.traits)
    assert arc.pathway_mapfiles == root / "pathway_mapfiles"
    assert arc.description_mapfiles == root / "description_mapfiles"
    # default_files: prokaryotic and bacteria lack their .fna here; archaea is complete
    assert load_reference(root).folder == root / "archaea"
    # hsp alone needs only the tree
    bac = load_reference(root / "bacteria", need_fna=False)
    assert bac.fna is None and bac.tre.name == "bac_ref.tre"
    with pytest.raises(InputError, match="bac_ref.fna: missing"):
        load_reference(root / "bacteria")


@pytest.mark.requires_shared
def test_trait_tables(shared_data):
    arc = load_reference(shared_data / "picrust2-ref" / "archaea")
    ko = arc.read_traits("ko")
    assert ko.index.name == "assembly" and ko.shape == (1002, 6297)
    assert ko.loc["GCF_000011125.1", "ko:K07785"] == 0
    with pytest.raises(InputError, match="no trait table 'pheno'"):
        arc.read_traits("pheno")


def test_missing_reference_files_are_named(tmp_path):
    (tmp_path / "x_ref").mkdir()
    with pytest.raises(InputError, match="x_ref.tre: missing"):
        load_reference(tmp_path)
    (tmp_path / "x_ref" / "x_ref.tre").write_text("(a:1,b:1);")
    (tmp_path / "x_ref" / "x_ref.fna").write_text(">a\nAC\n>b\nAG\n")
    with pytest.raises(InputError, match="x_ref.hmm: missing"):
        load_reference(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="not a PICRUSt2 reference folder"):
        load_reference(empty)


def test_bad_trait_tables(tmp_path):
    p = tmp_path / "t.txt.gz"
    with gzip.open(p, "wt") as fh:
        fh.write("assembly\tK1\tK2\ng1\t1\t0\ng2\t2\tx\n")
    with pytest.raises(InputError, match=r"line 3: K2: value 'x' is not a number"):
        read_trait_table(p)
    p.write_bytes(b"")
    with pytest.raises(InputError):
        read_trait_table(p)
    q = tmp_path / "dup.tsv"
    q.write_text("assembly\tK1\ng1\t1\ng1\t2\n")
    with pytest.raises(InputError, match="line 3: genome id 'g1' appears twice"):
        read_trait_table(q)
    ok = tmp_path / "own.tsv"
    ok.write_text("genome\tmy_trait\ng1\t1.5\ng2\t0\n")
    assert read_trait_table(ok)["my_trait"].tolist() == [1.5, 0.0]
    shutil.rmtree(tmp_path / "nonexistent", ignore_errors=True)
    with pytest.raises(InputError, match="no such file"):
        read_trait_table(tmp_path / "nonexistent.tsv")
