"""Property-based fuzzing of the text parsers: any input ends in a parsed result or one
:class:`~microtrial.errors.InputError`, never another exception.

Inputs are random bytes, random text, and near-valid files with random edits (the cases a
fuzzer reaches rarely from random bytes alone), written plain or gzip-compressed.
"""

from __future__ import annotations

import gzip
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microtrial.errors import InputError
from microtrial.io.fasta import read_fasta
from microtrial.io.metadata import read_metadata
from microtrial.io.newick import read_tree
from microtrial.reads._fastq import read_fastq

FASTQ = b"@r1 desc\nACGTNACGTA\n+\nIIIII#####\n@r2\nGGGGCCCCAA\n+r2\n!!!!IIII55\n"
FASTA = b">seq1 first\nACGTACGT\nACGT\n>seq2\nGGCCNNAA\n"
NEWICK = b"((a:0.1,b:0.2)x:0.05,(c:0.3,'d e':0.4):0.1)root;\n"
METADATA = (b"sample-id\tgroup\tage\n#q2:types\tcategorical\tnumeric\n# comment\n"
            b"S1\ta\t30\nS2\tb\t\nS3\ta\t41.5\n")

# pieces that matter to each format's grammar, to splice in at random places
TOKENS = [b"@", b"+", b">", b"\n", b"\r\n", b"\t", b"(", b")", b",", b":", b";", b"'", b"#",
          b"#q2:types", b"numeric", b"\xef\xbb\xbf", b"\x00", b"\xff", b"-1e400", b"nan", b"ACGT",
          b"sample-id", b"  ", b""]

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw: Any, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "truncate", "duplicate"]))
        pos = draw(st.integers(0, len(data)))
        if op == "insert":
            data[pos:pos] = draw(st.sampled_from(TOKENS))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 5))]
        elif op == "replace" and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[pos:]
        elif op == "duplicate":
            data[pos:pos] = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


def inputs(base: bytes) -> st.SearchStrategy[tuple[bytes, bool]]:
    raw = st.one_of(st.binary(max_size=300), st.text(max_size=200).map(str.encode), mutated(base))
    return st.tuples(raw, st.booleans())


def _parse_only(parser: Callable[[Path], object], data: bytes, gz: bool, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (f"input{suffix}.gz" if gz else f"input{suffix}")
        path.write_bytes(gzip.compress(data) if gz else data)
        try:
            parser(path)
        except InputError as exc:
            assert str(exc).strip()  # (the CLI folds a message to one line)


@SETTINGS
@given(inputs(FASTQ))
def test_fastq_parser(case: tuple[bytes, bool]) -> None:
    _parse_only(read_fastq, *case, ".fastq")


@SETTINGS
@given(inputs(FASTA))
def test_fasta_parser(case: tuple[bytes, bool]) -> None:
    _parse_only(read_fasta, *case, ".fasta")
    _parse_only(lambda p: read_fasta(p, as_dna=True), *case, ".fasta")


@SETTINGS
@given(inputs(NEWICK))
def test_newick_parser(case: tuple[bytes, bool]) -> None:
    _parse_only(read_tree, case[0], False, ".nwk")


@SETTINGS
@given(inputs(METADATA))
def test_metadata_parser(case: tuple[bytes, bool]) -> None:
    _parse_only(read_metadata, *case, ".tsv")


def test_the_valid_seeds_parse() -> None:
    # the bases the mutations start from are valid files (else the fuzzing tests little)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for name, data in (("a.fastq", FASTQ), ("a.fasta", FASTA), ("a.nwk", NEWICK), ("a.tsv", METADATA)):
            (d / name).write_bytes(data)
        reads = read_fastq(d / "a.fastq")
        assert reads.n_reads == 2 and list(reads.lengths) == [10, 10]
        assert list(read_fasta(d / "a.fasta")) == ["seq1", "seq2"]
        assert sorted(t.name for t in read_tree(d / "a.nwk").tips()) == ["a", "b", "c", "d e"]
        md = read_metadata(d / "a.tsv")
        assert list(md.index) == ["S1", "S2", "S3"] and md["age"].isna().sum() == 1
