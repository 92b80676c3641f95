"""The bad-input suite: malformed inputs of every kind, each refused the same way.

Every case runs ``microtrial <command> ...`` in-process and must end with exit status 2,
stderr of exactly one line ``error: <file or option>: <what is wrong>`` (no traceback, no
warning before it repeating the cause), nothing on stdout that claims success, and no output
folder or file left behind. Each case names what the error line must mention.
"""

from __future__ import annotations

import gzip
import os
import shutil
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from microtrial.cli import main

Case = Callable[[Path], tuple[list[str], str]]
CASES: dict[str, Case] = {}

TABLE = "#OTU ID\tS1\tS2\tS3\tS4\nasv1\t10\t0\t3\t4\nasv2\t0\t5\t1\t6\nasv3\t7\t7\t2\t1\n"
METADATA = ("sample-id\tgroup\tage\n#q2:types\tcategorical\tnumeric\n"
            "S1\ta\t30\nS2\ta\t40\nS3\tb\t50\nS4\tb\t60\n")
FASTQ = "@r1\nACGTACGTAC\n+\nIIIIIIIIII\n"


def case(name: str) -> Callable[[Case], Case]:
    def deco(fn: Case) -> Case:
        assert name not in CASES
        CASES[name] = fn
        return fn
    return deco


def _w(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def _diversity(t: Path, table: Path, metadata: Path | None = None, *extra: str) -> list[str]:
    md = metadata or _w(t / "metadata.tsv", METADATA)
    return ["diversity", "--table", str(table), "--metadata", str(md), "--permutations", "0",
            "--rarefy", "none", *extra, "-o", str(t / "out")]


def _qza_import(t: Path, src: Path, kind: str) -> list[str]:
    return ["qza", "import", str(src), "--type", kind, "-o", str(t / "out.qza")]


def _denoise(t: Path, reads: Path) -> list[str]:
    return ["denoise", str(reads), "-o", str(t / "out")]


# ---- FASTQ / gzip -----------------------------------------------------------------------
def _pair(t: Path, r1: str | bytes, r2: str | bytes = FASTQ, *, gz: bool = False) -> Path:
    d = t / "reads"
    ext = ".fastq.gz" if gz else ".fastq"
    for name, text in (("A_S1_L001_R1_001", r1), ("A_S1_L001_R2_001", r2)):
        data = text.encode() if isinstance(text, str) else text
        _w(d / f"{name}{ext}", gzip.compress(data) if gz and not name.endswith("skip") else data)
    return d


@case("fastq-truncated-gzip")
def _(t: Path) -> tuple[list[str], str]:
    d = _pair(t, FASTQ * 50, FASTQ * 50, gz=True)
    f = d / "A_S1_L001_R1_001.fastq.gz"
    f.write_bytes(f.read_bytes()[:40])
    return _denoise(t, d), "A_S1_L001_R1_001.fastq.gz"


@case("fastq-not-gzip-but-named-gz")
def _(t: Path) -> tuple[list[str], str]:
    d = t / "reads"
    _w(d / "A_S1_L001_R1_001.fastq.gz", FASTQ)
    _w(d / "A_S1_L001_R2_001.fastq.gz", gzip.compress(FASTQ.encode()))
    return _denoise(t, d), "A_S1_L001_R1_001.fastq.gz"


@case("fastq-missing-plus-line")
def _(t: Path) -> tuple[list[str], str]:
    return _denoise(t, _pair(t, "@r1\nACGT\nIIII\n@r2\nACGT\n+\nIIII\n")), "A_S1_L001_R1_001.fastq"


@case("fastq-quality-length-differs")
def _(t: Path) -> tuple[list[str], str]:
    return _denoise(t, _pair(t, "@r1\nACGTACGT\n+\nIII\n")), "A_S1_L001_R1_001.fastq"


@case("fastq-binary-garbage")
def _(t: Path) -> tuple[list[str], str]:
    return _denoise(t, _pair(t, bytes(range(256)) * 4)), "A_S1_L001_R1_001.fastq"


@case("fastq-header-without-at")
def _(t: Path) -> tuple[list[str], str]:
    return _denoise(t, _pair(t, "r1\nACGT\n+\nIIII\n")), "A_S1_L001_R1_001.fastq"


@case("fastq-reads-folder-is-missing")
def _(t: Path) -> tuple[list[str], str]:
    return _denoise(t, t / "nothing-here"), "nothing-here"


@case("fastq-folder-named-like-a-fastq-file")
def _(t: Path) -> tuple[list[str], str]:
    d = _pair(t, FASTQ)
    (d / "A_S1_L001_R2_001.fastq").unlink()
    (d / "A_S1_L001_R2_001.fastq").mkdir()
    return _denoise(t, d), "A_S1_L001_R2_001.fastq"


# ---- FASTA ------------------------------------------------------------------------------
@case("fasta-no-header")
def _(t: Path) -> tuple[list[str], str]:
    return _qza_import(t, _w(t / "seqs.fasta", "ACGTACGT\n"), "FeatureData[Sequence]"), "seqs.fasta"


@case("fasta-duplicate-ids")
def _(t: Path) -> tuple[list[str], str]:
    src = _w(t / "seqs.fasta", ">a\nACGT\n>a\nACGA\n")
    return _qza_import(t, src, "FeatureData[Sequence]"), "seqs.fasta"


@case("fasta-not-dna")
def _(t: Path) -> tuple[list[str], str]:
    src = _w(t / "seqs.fasta", ">a\nACGT\n>b\nHELLO WORLD 123\n")
    return _qza_import(t, src, "FeatureData[Sequence]"), "seqs.fasta"


@case("fasta-empty")
def _(t: Path) -> tuple[list[str], str]:
    return _qza_import(t, _w(t / "seqs.fasta", ""), "FeatureData[Sequence]"), "seqs.fasta"


@case("fasta-empty-id")
def _(t: Path) -> tuple[list[str], str]:
    return _qza_import(t, _w(t / "seqs.fasta", ">\nACGT\n"), "FeatureData[Sequence]"), "seqs.fasta"


# ---- feature tables ---------------------------------------------------------------------
@case("table-negative-count")
def _(t: Path) -> tuple[list[str], str]:
    return _diversity(t, _w(t / "table.tsv", TABLE.replace("\t10\t", "\t-10\t"))), "table.tsv"


@case("table-not-a-number")
def _(t: Path) -> tuple[list[str], str]:
    return _diversity(t, _w(t / "table.tsv", TABLE.replace("\t10\t", "\tten\t"))), "table.tsv"


@case("table-jagged-row")
def _(t: Path) -> tuple[list[str], str]:
    return _diversity(t, _w(t / "table.tsv", TABLE + "asv4\t1\t2\t3\t4\t5\t6\n")), "table.tsv"


@case("table-duplicate-sample")
def _(t: Path) -> tuple[list[str], str]:
    return _diversity(t, _w(t / "table.tsv", TABLE.replace("S4\n", "S3\n", 1))), "table.tsv"


@case("table-duplicate-feature")
def _(t: Path) -> tuple[list[str], str]:
    return _diversity(t, _w(t / "table.tsv", TABLE + "asv1\t1\t1\t1\t1\n")), "table.tsv"


@case("table-infinite-count")
def _(t: Path) -> tuple[list[str], str]:
    return _diversity(t, _w(t / "table.tsv", TABLE.replace("\t10\t", "\tinf\t"))), "table.tsv"


@case("table-empty-file")
def _(t: Path) -> tuple[list[str], str]:
    return _diversity(t, _w(t / "table.tsv", "")), "table.tsv"


@case("table-truncated-biom")
def _(t: Path) -> tuple[list[str], str]:
    from microtrial.io.feature_table import read_table_tsv, write_biom

    write_biom(read_table_tsv(_w(t / "table.tsv", TABLE)), t / "table.biom")
    data = (t / "table.biom").read_bytes()
    (t / "table.biom").write_bytes(data[: len(data) // 2])
    return _diversity(t, t / "table.biom"), "table.biom"


@case("table-json-biom-broken")
def _(t: Path) -> tuple[list[str], str]:
    return _diversity(t, _w(t / "table.biom", '{"id": "x", "format": "Biological Observation Matrix 1.0",')), \
        "table.biom"


@case("table-is-a-folder")
def _(t: Path) -> tuple[list[str], str]:
    (t / "table.tsv").mkdir()
    return _diversity(t, t / "table.tsv"), "table.tsv"


# ---- QIIME 2 metadata -------------------------------------------------------------------
@case("metadata-duplicate-sample")
def _(t: Path) -> tuple[list[str], str]:
    md = _w(t / "md.tsv", METADATA + "S1\tb\t70\n")
    return _diversity(t, _w(t / "table.tsv", TABLE), md, "--group", "group"), "md.tsv"


@case("metadata-bad-q2-type")
def _(t: Path) -> tuple[list[str], str]:
    md = _w(t / "md.tsv", METADATA.replace("#q2:types\tcategorical\tnumeric", "#q2:types\tcategorical\tnumber"))
    return _diversity(t, _w(t / "table.tsv", TABLE), md, "--group", "group"), "md.tsv"


@case("metadata-numeric-column-with-text")
def _(t: Path) -> tuple[list[str], str]:
    md = _w(t / "md.tsv", METADATA.replace("\t40\n", "\tforty\n"))
    return _diversity(t, _w(t / "table.tsv", TABLE), md, "--group", "group"), "md.tsv"


@case("metadata-empty")
def _(t: Path) -> tuple[list[str], str]:
    return _diversity(t, _w(t / "table.tsv", TABLE), _w(t / "md.tsv", ""), "--group", "group"), "md.tsv"


@case("metadata-no-shared-samples")
def _(t: Path) -> tuple[list[str], str]:
    md = _w(t / "md.tsv", METADATA.replace("S", "X"))
    return _diversity(t, _w(t / "table.tsv", TABLE), md, "--group", "group"), "table.tsv"


# ---- .qza archives ----------------------------------------------------------------------
def _qza(t: Path, members: dict[str, bytes], *, symlink: str | None = None) -> Path:
    path = t / "table.qza"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
        if symlink is not None:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (0o120777 << 16)
            z.writestr(info, "/etc/passwd")
    return path


_UUID = "0b1a6b3e-7c1e-4e4e-9c1b-6f1e2d3c4b5a"
_META = f"uuid: {_UUID}\ntype: FeatureTable[Frequency]\nformat: BIOMV210DirFmt\n".encode()


@case("qza-member-escapes-folder")
def _(t: Path) -> tuple[list[str], str]:
    q = _qza(t, {f"{_UUID}/metadata.yaml": _META, f"{_UUID}/../../evil.txt": b"x"})
    return _diversity(t, q), "table.qza"


@case("qza-absolute-member")
def _(t: Path) -> tuple[list[str], str]:
    q = _qza(t, {f"{_UUID}/metadata.yaml": _META, "/tmp/evil-microtrial.txt": b"x"})
    return _diversity(t, q), "table.qza"


@case("qza-symlink-member")
def _(t: Path) -> tuple[list[str], str]:
    q = _qza(t, {f"{_UUID}/metadata.yaml": _META}, symlink=f"{_UUID}/data/feature-table.biom")
    return _diversity(t, q), "table.qza"


@case("qza-zip-bomb")
def _(t: Path) -> tuple[list[str], str]:
    q = _qza(t, {f"{_UUID}/metadata.yaml": _META, f"{_UUID}/data/feature-table.biom": bytes(300 * 2 ** 20)})
    return _diversity(t, q), "table.qza"


@case("qza-not-a-zip")
def _(t: Path) -> tuple[list[str], str]:
    return _diversity(t, _w(t / "table.qza", "hello")), "table.qza"


@case("qza-no-metadata-yaml")
def _(t: Path) -> tuple[list[str], str]:
    return _diversity(t, _qza(t, {f"{_UUID}/data/x.txt": b"x"})), "table.qza"


# ---- QIIME 2's format rules for the types qza import writes ------------------------------
@case("q2-taxonomy-header-only")
def _(t: Path) -> tuple[list[str], str]:
    src = _w(t / "taxonomy.tsv", "Feature ID\tTaxon\n")
    return _qza_import(t, src, "FeatureData[Taxonomy]"), "taxonomy.tsv"


@case("q2-taxonomy-jagged-rows")
def _(t: Path) -> tuple[list[str], str]:
    src = _w(t / "taxonomy.tsv", "Feature ID\tTaxon\tConfidence\nseq1\tk__Bacteria\t0.9\nseq2\n")
    return _qza_import(t, src, "FeatureData[Taxonomy]"), "taxonomy.tsv"


@case("q2-taxonomy-over-long-row")
def _(t: Path) -> tuple[list[str], str]:
    src = _w(t / "taxonomy.tsv", "Feature ID\tTaxon\nseq1\tk__Bacteria\nseq2\tk__Bacteria\textra\n")
    return _qza_import(t, src, "FeatureData[Taxonomy]"), "taxonomy.tsv"


@case("q2-table-not-a-table")
def _(t: Path) -> tuple[list[str], str]:
    return _qza_import(t, _w(t / "table.tsv", "just some text\n"), "FeatureTable[Frequency]"), "table.tsv"


@case("q2-tree-not-newick")
def _(t: Path) -> tuple[list[str], str]:
    return _qza_import(t, _w(t / "tree.nwk", "((a,b),c\n"), "Phylogeny[Rooted]"), "tree.nwk"


# ---- Newick -----------------------------------------------------------------------------
@case("newick-unbalanced")
def _(t: Path) -> tuple[list[str], str]:
    tree = _w(t / "tree.nwk", "((asv1:1,asv2:1):1,asv3:1;\n")
    return _diversity(t, _w(t / "table.tsv", TABLE), None, "--tree", str(tree)), "tree.nwk"


@case("newick-bad-length")
def _(t: Path) -> tuple[list[str], str]:
    tree = _w(t / "tree.nwk", "((asv1:one,asv2:1):1,asv3:1);\n")
    return _diversity(t, _w(t / "table.tsv", TABLE), None, "--tree", str(tree)), "tree.nwk"


@case("newick-empty")
def _(t: Path) -> tuple[list[str], str]:
    tree = _w(t / "tree.nwk", "")
    return _diversity(t, _w(t / "table.tsv", TABLE), None, "--tree", str(tree)), "tree.nwk"


@case("newick-binary-garbage")
def _(t: Path) -> tuple[list[str], str]:
    tree = _w(t / "tree.nwk", bytes(range(256)))
    return _diversity(t, _w(t / "table.tsv", TABLE), None, "--tree", str(tree)), "tree.nwk"


# ---- the study file ---------------------------------------------------------------------
def _bomb(levels: int) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        p, c = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@case("study-yaml-anchor-bomb")
def _(t: Path) -> tuple[list[str], str]:
    return ["validate", str(_w(t / "study.yaml", _bomb(9)))], "study.yaml"


@case("study-yaml-syntax")
def _(t: Path) -> tuple[list[str], str]:
    return ["validate", str(_w(t / "study.yaml", "name: x\nmetadata: [unclosed\n"))], "study.yaml"


@case("study-yaml-not-a-mapping")
def _(t: Path) -> tuple[list[str], str]:
    return ["validate", str(_w(t / "study.yaml", "- a\n- b\n"))], "study.yaml"


@case("study-yaml-binary")
def _(t: Path) -> tuple[list[str], str]:
    return ["validate", str(_w(t / "study.yaml", b"\xff\xfe\x00garbage"))], "study.yaml"


# ---- clinical, immune and metabolite tables ----------------------------------------------
CLINICAL = ("subject\tvisit\tphga\tptga\tmmt8\thaq\textramuscular\tck\n"
            "P1\tbaseline\t5\t5\t60\t1\t3\t900\nP1\tweek12\t2\t2\t70\t0.5\t1\t300\n"
            "P2\tbaseline\t6\t6\t55\t1.2\t4\t1200\nP2\tweek12\t3\t3\t72\t0.4\t1\t250\n")
IMMUNE = "subject\tvisit\ttreg_pct\nP1\tbaseline\t8\nP1\tweek12\t15\nP2\tbaseline\t10\nP2\tweek12\t16\n"


def _clinical(t: Path, clinical: str = CLINICAL, immune: str | None = None) -> list[str]:
    argv = ["clinical", "--clinical", str(_w(t / "clinical.tsv", clinical)), "--uln", "ck=200"]
    if immune is not None:
        argv += ["--immune", str(_w(t / "immune.tsv", immune))]
    return [*argv, "-o", str(t / "out")]


@case("clinical-phga-outside-scale")
def _(t: Path) -> tuple[list[str], str]:
    return _clinical(t, CLINICAL.replace("baseline\t5\t5", "baseline\t15\t5")), "clinical.tsv"


@case("clinical-missing-subject-column")
def _(t: Path) -> tuple[list[str], str]:
    return _clinical(t, CLINICAL.replace("subject\t", "patient\t", 1)), "clinical.tsv"


@case("clinical-text-value")
def _(t: Path) -> tuple[list[str], str]:
    return _clinical(t, CLINICAL.replace("\t900\n", "\thigh\n")), "clinical.tsv"


@case("clinical-duplicate-visit")
def _(t: Path) -> tuple[list[str], str]:
    return _clinical(t, CLINICAL + "P1\tbaseline\t5\t5\t60\t1\t3\t900\n"), "clinical.tsv"


@case("immune-percentage-above-100")
def _(t: Path) -> tuple[list[str], str]:
    return _clinical(t, immune=IMMUNE.replace("\t15\n", "\t150\n")), "immune.tsv"


@case("immune-percentage-negative")
def _(t: Path) -> tuple[list[str], str]:
    return _clinical(t, immune=IMMUNE.replace("\t8\n", "\t-5\n")), "immune.tsv"


@case("immune-no-measure-column")
def _(t: Path) -> tuple[list[str], str]:
    return _clinical(t, immune="subject\tvisit\nP1\tbaseline\n"), "immune.tsv"


@case("metabolites-text-value")
def _(t: Path) -> tuple[list[str], str]:
    d = t / "study"
    shutil.copytree(Path(__file__).resolve().parents[1] / "data" / "study", d)
    text = (d / "metabolites.tsv").read_text().splitlines()
    cells = text[1].split("\t")
    cells[1] = "lots"
    text[1] = "\t".join(cells)
    (d / "metabolites.tsv").write_text("\n".join(text) + "\n")
    (d / "reads").mkdir()
    for s in ("P1-0", "P1-12", "P2-0", "P2-12", "C1-0", "C2-0"):
        for r in (1, 2):
            (d / "reads" / f"{s}_S1_L001_R{r}_001.fastq.gz").touch()
    return ["validate", str(d / "study.yaml")], "metabolites.tsv"


# ---- output folders and options ---------------------------------------------------------
@case("output-folder-is-a-file")
def _(t: Path) -> tuple[list[str], str]:
    argv = _diversity(t, _w(t / "table.tsv", TABLE))
    _w(t / "out", "I am a file")
    return argv, "out"


@case("output-qza-in-missing-folder-is-a-file")
def _(t: Path) -> tuple[list[str], str]:
    _w(t / "blocker", "x")
    return ["qza", "import", str(_w(t / "table.tsv", TABLE)), "--type", "FeatureTable[Frequency]",
            "-o", str(t / "blocker" / "out.qza")], "blocker"


@case("option-negative-permutations")
def _(t: Path) -> tuple[list[str], str]:
    argv = _diversity(t, _w(t / "table.tsv", TABLE))
    argv[argv.index("--permutations") + 1] = "-5"
    return argv, "--permutations"


@case("option-unknown-metric")
def _(t: Path) -> tuple[list[str], str]:
    return _diversity(t, _w(t / "table.tsv", TABLE), None, "--metrics", "braycurtis,manhattan"), "--metrics"


def _check(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    rc = main(argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert rc == 2, (rc, err)
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert lines[0].count(": ") >= 2, err  # error: <file or option>: <what>
    low = out.lower()
    assert not any(w in low for w in ("ok:", " -> ", "wrote", "written", "done")), out
    return lines[0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_input_is_refused_in_one_line(name: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    argv, names = CASES[name](tmp_path)
    before = {p for p in tmp_path.rglob("*")}
    line = _check(argv, capsys)
    assert names in line, line
    left = {p for p in tmp_path.rglob("*")} - before
    assert not left, sorted(map(str, left))


def test_suite_has_at_least_40_cases() -> None:
    assert len(CASES) >= 40


def test_anchor_bomb_is_refused_fast(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = _bomb(9)
    assert len(text.encode()) <= 600
    t0 = time.perf_counter()
    line = _check(["validate", str(_w(tmp_path / "study.yaml", text))], capsys)
    assert time.perf_counter() - t0 < 2.0
    assert "alias" in line


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_read_only_output_parent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        line = _check(_diversity(tmp_path, _w(tmp_path / "table.tsv", TABLE))[:-1] + [str(ro / "out")], capsys)
        assert "ro" in line
    finally:
        ro.chmod(0o755)


@pytest.mark.parametrize("kind,text", [
    ("FeatureData[Sequence]", "\ufeff>seq1\nACGTACGT\n>seq2\nACGTTT\n"),
    ("FeatureData[Taxonomy]", "Feature ID\tTaxon\tConfidence\nseq1\tk__Bacteria; p__Firmicutes\t0.9\n"
                              "seq2\tk__Bacteria; p__\t\n"),
    ("FeatureData[Taxonomy]", "Feature ID\tTaxon\n\nseq1\tk__Bacteria;p__Firmicutes;  \n"
                              "   \nseq2\tUnassigned\n"),
])
def test_messy_but_valid_files_qiime2_accepts_are_imported(tmp_path: Path, kind: str, text: str) -> None:
    src = _w(tmp_path / ("seqs.fasta" if "Sequence" in kind else "taxonomy.tsv"), text.encode("utf-8"))
    assert main(["qza", "import", str(src), "--type", kind, "-o", str(tmp_path / "x.qza")]) == 0
    with zipfile.ZipFile(tmp_path / "x.qza") as z:
        action = next(n for n in z.namelist() if n.endswith("provenance/action/action.yaml"))
        text_action = z.read(action).decode()
    assert "manifest: null" not in text_action

