from __future__ import annotations

import io
import stat
import uuid
import zipfile

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import yaml

from microtrial.cli import main
from microtrial.errors import InputError
from microtrial.io.feature_table import read_table
from microtrial.io.qza import export_qza, import_file, qza_info, read_qza, write_qza
from microtrial.table import FeatureTable


def _tree():
    from skbio import TreeNode

    return TreeNode.read(io.StringIO("((a:1.0,b:2.0)x:0.5,c:1.5)root;"))


def test_feature_table_round_trip_and_layout(tmp_path):
    t = FeatureTable(sp.csr_matrix(np.array([[1, 0], [2, 3]])), ("f1", "f2"), ("s1", "s2"))
    uid = write_qza(t, tmp_path / "t.qza", semantic_type="FeatureTable[Frequency]")
    with zipfile.ZipFile(tmp_path / "t.qza") as zf:
        names = zf.namelist()
        assert {n.split("/")[0] for n in names} == {uid}
        assert f"{uid}/data/feature-table.biom" in names
        meta = yaml.safe_load(zf.read(f"{uid}/metadata.yaml"))
        assert meta == {"uuid": uid, "type": "FeatureTable[Frequency]", "format": "BIOMV210DirFmt"}
        assert zf.read(f"{uid}/VERSION").decode().startswith("QIIME 2\narchive: 5\n")
    uuid.UUID(uid)
    back = read_qza(tmp_path / "t.qza")
    assert back.feature_ids == ("f1", "f2") and back.sample_ids == ("s1", "s2")
    np.testing.assert_array_equal(back.data.toarray(), [[1, 0], [2, 3]])
    np.testing.assert_array_equal(read_table(tmp_path / "t.qza").data.toarray(), [[1, 0], [2, 3]])
    info = qza_info(tmp_path / "t.qza")
    assert (info.type, info.format, info.archive_version) == (
        "FeatureTable[Frequency]", "BIOMV210DirFmt", 5)


def test_sequences_round_trip(tmp_path):
    seqs = {"f1": "ACGT", "f2": "GGCCA"}
    write_qza(seqs, tmp_path / "s.qza", semantic_type="FeatureData[Sequence]")
    assert read_qza(tmp_path / "s.qza") == seqs
    assert qza_info(tmp_path / "s.qza").format == "DNASequencesDirectoryFormat"


def test_taxonomy_round_trip(tmp_path):
    tax = pd.DataFrame({"Taxon": ["d__Bacteria; p__Firmicutes", "d__Bacteria"],
                        "Confidence": [0.95, 0.7]}, index=["f1", "f2"])
    write_qza(tax, tmp_path / "x.qza", semantic_type="FeatureData[Taxonomy]")
    back = read_qza(tmp_path / "x.qza")
    assert list(back.index) == ["f1", "f2"]
    assert list(back["Taxon"]) == list(tax["Taxon"])
    assert list(back["Confidence"]) == [0.95, 0.7]
    assert qza_info(tmp_path / "x.qza").format == "TSVTaxonomyDirectoryFormat"


def test_tree_round_trip(tmp_path):
    write_qza(_tree(), tmp_path / "tree.qza", semantic_type="Phylogeny[Rooted]")
    back = read_qza(tmp_path / "tree.qza")
    assert sorted(t.name for t in back.tips()) == ["a", "b", "c"]
    assert back.find("b").length == 2.0 and back.find("x").length == 0.5
    assert qza_info(tmp_path / "tree.qza").format == "NewickDirectoryFormat"


def test_wrong_payload_type_is_refused(tmp_path):
    with pytest.raises(TypeError):
        write_qza({"f": "ACGT"}, tmp_path / "t.qza", semantic_type="FeatureTable[Frequency]")
    with pytest.raises(InputError, match="unsupported semantic type"):
        write_qza({"f": "ACGT"}, tmp_path / "t.qza", semantic_type="SampleData[Sequences]")
    assert not (tmp_path / "t.qza").exists()


def _crafted(path, members):
    """Write a zip with a valid artifact skeleton plus the given (name, data, mode) members."""
    uid = str(uuid.uuid4())
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{uid}/metadata.yaml",
                    f"uuid: {uid}\ntype: FeatureData[Sequence]\nformat: DNASequencesDirectoryFormat\n")
        zf.writestr(f"{uid}/VERSION", "QIIME 2\narchive: 5\nframework: 2019.10.0\n")
        zf.writestr(f"{uid}/data/dna-sequences.fasta", ">a\nACGT\n")
        for name, data, mode in members:
            info = zipfile.ZipInfo(name.replace("UUID", uid))
            if mode is not None:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return uid


@pytest.mark.parametrize(
    ("member", "mode", "words"),
    [
        ("UUID/data/../../evil", None, ".."),
        ("../evil", None, ".."),
        ("/tmp/evil", None, "absolute"),
        ("UUID/data/link", stat.S_IFLNK | 0o777, "symbolic link"),
    ],
)
def test_escaping_members_are_refused(tmp_path, member, mode, words):
    path = tmp_path / "evil.qza"
    _crafted(path, [(member, b"/etc/passwd" if mode else b"pwned", mode)])
    out = tmp_path / "out"
    for action in (lambda: read_qza(path), lambda: export_qza(path, out)):
        with pytest.raises(InputError) as info:
            action()
        assert words in str(info.value)
    assert not (tmp_path / "evil").exists()
    assert not list(tmp_path.rglob("evil")) and not list(tmp_path.rglob("link"))


def test_not_an_artifact(tmp_path):
    (tmp_path / "x.qza").write_text("hello")
    with pytest.raises(InputError, match="not a zip"):
        read_qza(tmp_path / "x.qza")
    with zipfile.ZipFile(tmp_path / "y.qza", "w") as zf:
        zf.writestr("not-a-uuid/metadata.yaml", "type: X\n")
    with pytest.raises(InputError, match="not a UUID"):
        read_qza(tmp_path / "y.qza")


def test_malformed_payload_names_the_member_and_line(tmp_path):
    uid = str(uuid.uuid4())
    with zipfile.ZipFile(tmp_path / "s.qza", "w") as zf:
        zf.writestr(f"{uid}/metadata.yaml", f"uuid: {uid}\ntype: FeatureData[Sequence]\nformat: X\n")
        zf.writestr(f"{uid}/VERSION", "QIIME 2\narchive: 5\nframework: 2019.10.0\n")
        zf.writestr(f"{uid}/data/dna-sequences.fasta", ">a\nACGT\n>b\nAC!T\n")
    with pytest.raises(InputError) as info:
        read_qza(tmp_path / "s.qza")
    assert info.value.line == 4
    assert "dna-sequences.fasta" in str(info.value)


def test_export_and_import(tmp_path):
    write_qza({"f1": "ACGT"}, tmp_path / "s.qza", semantic_type="FeatureData[Sequence]")
    files = export_qza(tmp_path / "s.qza", tmp_path / "out")
    assert files == [tmp_path / "out" / "dna-sequences.fasta"]
    assert (tmp_path / "out" / "dna-sequences.fasta").read_text() == ">f1\nACGT\n"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dna-sequences.fasta"]
    (tmp_path / "t.tsv").write_text("#OTU ID\tA\tB\nf1\t4\t0\n")
    import_file(tmp_path / "t.tsv", tmp_path / "t.qza", semantic_type="FeatureTable[Frequency]")
    np.testing.assert_array_equal(read_qza(tmp_path / "t.qza").data.toarray(), [[4, 0]])


def test_cli_import_export(tmp_path, capsys):
    (tmp_path / "t.tsv").write_text("#OTU ID\tA\tB\nf1\t4\t0\n")
    assert main(["qza", "import", str(tmp_path / "t.tsv"), "--type", "FeatureTable[Frequency]",
                 "-o", str(tmp_path / "t.qza")]) == 0
    assert main(["qza", "export", str(tmp_path / "t.qza"), "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "feature-table.biom").exists()
    import json

    run_info = json.loads((tmp_path / "out" / "run-info.json").read_text())
    assert run_info["artifact"]["type"] == "FeatureTable[Frequency]"
    (tmp_path / "bad.tsv").write_text("#OTU ID\tA\tB\nf1\t4\n")
    capsys.readouterr()
    assert main(["qza", "import", str(tmp_path / "bad.tsv"), "--type", "FeatureTable[Frequency]",
                 "-o", str(tmp_path / "bad.qza")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'bad.tsv'}: line 2: ")
    assert "Traceback" not in err
    assert not (tmp_path / "bad.qza").exists()


def test_size_guards(tmp_path, monkeypatch):
    import microtrial.io.qza as qza

    bomb = tmp_path / "bomb.qza"
    uid = _crafted(bomb, [])
    with zipfile.ZipFile(bomb, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{uid}/data/zeros.bin", b"\0" * (4 * 1024**2))  # ~1000:1
    with pytest.raises(InputError, match="compression ratio"):
        read_qza(bomb)
    write_qza({"f": "ACGT" * 100}, tmp_path / "s.qza", semantic_type="FeatureData[Sequence]")
    monkeypatch.setattr(qza, "MAX_TOTAL_BYTES", 300)
    with pytest.raises(InputError, match="size"):
        read_qza(tmp_path / "s.qza")
