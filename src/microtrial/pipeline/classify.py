"""``classify``: ASV sequences -> taxonomy.tsv (naive Bayesian classifier, cached model).

The stage work is :func:`microtrial.taxonomy.train_reference` (region extraction, training),
:func:`microtrial.taxonomy.classify_sequences` and :func:`microtrial.taxonomy.evaluate_reference`.
The on-disk model cache (content-addressed npz files under ``$MICROTRIAL_CACHE``) is I/O and
stays here: :func:`load_or_train` reads a cached model or calls ``train_reference`` and caches
it, so a cache miss is the one place where this module calls a second stage function.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from microtrial.errors import InputError, OptionError
from microtrial.io._atomic import atomic_open
from microtrial.options import mention

if TYPE_CHECKING:
    from microtrial.taxonomy import TrainedReference

log = logging.getLogger(__name__)

REFERENCES = ("greengenes", "custom")
"""Built-in references; ``custom`` (or any name, with ``ref_seqs``) reads user files: QIIME
format (FASTA + taxonomy TSV) or DADA2 format (taxonomy in the FASTA header), which is how
SILVA and GTDB training sets are distributed."""


def check_primers(primer_f: str | None, primer_r: str | None) -> None:
    """Both primers or neither, each a non-empty string of IUPAC nucleotide codes; errors
    name the option."""
    from microtrial.seqs import check_primer_option

    if (primer_f is None) != (primer_r is None):
        raise OptionError("reads.primer_f", "give both primers or neither")
    check_primer_option("reads.primer_f", primer_f)
    check_primer_option("reads.primer_r", primer_r)


def default_cache_dir() -> Path:
    """``$MICROTRIAL_CACHE`` or ``~/.cache/microtrial``."""
    env = os.environ.get("MICROTRIAL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "microtrial"


def reference_files(reference: str, ref_seqs: Path | None, ref_taxonomy: Path | None
                    ) -> tuple[Path, Path | None]:
    """The files behind a reference name (``ref_seqs`` overrides the name)."""
    if ref_seqs is not None:
        return Path(ref_seqs), (Path(ref_taxonomy) if ref_taxonomy is not None else None)
    if ref_taxonomy is not None:
        raise OptionError("taxonomy.ref_taxonomy",
                          f"needs {mention('taxonomy.ref_seqs')} (the reference sequences it describes)")
    name = reference.strip().lower().replace("_", "-")
    if name in ("greengenes", "gg", "gg-13-8", "greengenes-13-8"):
        import qiime_default_reference as qdr

        return Path(qdr.get_reference_sequences()), Path(qdr.get_reference_taxonomy())
    if name == "custom":
        raise OptionError("taxonomy.reference", f"custom needs {mention('taxonomy.ref_seqs')} FASTA "
                                                f"[{mention('taxonomy.ref_taxonomy')} TSV]")
    raise OptionError(
        "taxonomy.reference", f"unknown reference '{reference}'; the known ones are "
        f"{', '.join(REFERENCES)} (custom = your own files with {mention('taxonomy.ref_seqs')} "
        f"[{mention('taxonomy.ref_taxonomy')}], "
        "e.g. a SILVA or GTDB training set in DADA2 format)",
    )


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except FileNotFoundError as exc:
        raise InputError(path, "no such file") from exc
    return h.hexdigest()


def _memo_digest(path: Path, memo_dir: Path | None) -> str:
    """sha256 of a file, remembered in ``memo_dir/digests.json`` against the file's
    (size, mtime) so that a cached model is found without re-reading a large reference."""
    if memo_dir is None:
        return _file_digest(path)
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise InputError(path, "no such file") from exc
    memo_file = memo_dir / "digests.json"
    stamp = f"{st.st_size}:{st.st_mtime_ns}"
    memo: dict = {}
    try:
        memo = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        memo = {}
    entry = memo.get(str(path.resolve()))
    if isinstance(entry, dict) and entry.get("stamp") == stamp:
        return str(entry["sha256"])
    digest = _file_digest(path)
    memo[str(path.resolve())] = {"stamp": stamp, "sha256": digest}
    try:
        memo_dir.mkdir(parents=True, exist_ok=True)
        with atomic_open(memo_file) as fh:
            json.dump(memo, fh)
    except OSError:
        pass
    return digest


def cache_key(files: list[Path | None], params: dict, *, memo_dir: Path | None = None) -> str:
    """sha256 over the reference files' contents (their sha256s) and the training
    parameters."""
    h = hashlib.sha256()
    for f in files:
        h.update((_memo_digest(f, memo_dir) if f is not None else "-").encode())
    h.update(json.dumps(params, sort_keys=True).encode())
    return h.hexdigest()


def load_or_train(seqs_path: Path, tax_path: Path | None, *, primer_f: str | None = None,
                  primer_r: str | None = None, cache_dir: Path | None = None,
                  use_cache: bool = True) -> tuple[TrainedReference, dict[str, object]]:
    """The trained reference (from the npz cache when present, else
    :func:`microtrial.taxonomy.train_reference`) and a dict saying where the model came from."""
    from microtrial.io.taxonomy import read_model_arrays, read_reference, write_model
    from microtrial.taxonomy import (
        MODEL_FORMAT,
        K,
        SpeciesReference,
        TaxonomyModel,
        TrainedReference,
        train_reference,
    )

    params = {"k": K, "primer_f": primer_f, "primer_r": primer_r, "format": MODEL_FORMAT}
    cdir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = cache_key([seqs_path, tax_path], params, memo_dir=cdir if use_cache else None)
    model_path = cdir / f"classifier-{key[:24]}.npz"
    species_path = cdir / f"species-{key[:24]}.npz"
    info: dict[str, object] = {"cache_key": key, "model_file": str(model_path)}
    if use_cache and model_path.exists() and species_path.exists():
        try:
            try:
                model = TaxonomyModel.from_arrays(read_model_arrays(model_path))
            except (ValueError, KeyError) as exc:
                raise InputError(model_path, f"not a microtrial classifier model ({exc})") from exc
            with np.load(species_path, allow_pickle=False) as z:
                sp = SpeciesReference(tuple(map(str, z["genus"])), tuple(map(str, z["species"])),
                                      tuple(x.decode("ascii") for x in z["sequences"]))
            info["cached"] = True
            return TrainedReference(model, sp if sp.genus else None), info
        except InputError:
            log.warning("ignoring unreadable cached model %s", model_path)
    t0 = time.perf_counter()
    ref = read_reference(seqs_path, tax_path)
    try:
        trained = train_reference(ref, primer_f=primer_f, primer_r=primer_r, k=K)
    except ValueError as exc:
        raise InputError(seqs_path, str(exc)) from exc
    model = trained.model
    sp = trained.species or SpeciesReference((), (), ())
    info["cached"] = False
    info["training_seconds"] = round(time.perf_counter() - t0, 3)
    if use_cache:
        try:
            cdir.mkdir(parents=True, exist_ok=True)
            write_model(model, model_path)
            with atomic_open(species_path, "wb") as fh:
                np.savez(fh, genus=np.array(sp.genus, dtype=np.str_),
                         species=np.array(sp.species, dtype=np.str_),
                         sequences=np.array([x.encode("ascii") for x in sp.sequences], dtype=np.bytes_))
        except OSError as exc:  # a read-only cache must not stop the analysis
            log.warning("could not cache the model in %s: %s", cdir, exc)
    return trained, info


def classify_stage(sequences: Path, out_dir: Path, *, reference: str = "greengenes",
                   ref_seqs: Path | None = None, ref_taxonomy: Path | None = None,
                   ref_species: Path | None = None, confidence: float = 0.8,
                   primer_f: str | None = None, primer_r: str | None = None,
                   cache_dir: Path | None = None, threads: int = 2, seed: int = 0,
                   progress: Callable[[str, int, int], None] | None = None,
                   max_species: int = 1, both_orientations: bool = True,
                   use_cache: bool = True) -> Path:
    """Classify the ASVs in ``sequences`` (FASTA) and write ``taxonomy.tsv`` and
    ``run-info.json`` into ``out_dir``; returns the taxonomy path."""
    from microtrial.io.fasta import read_fasta
    from microtrial.io.runinfo import start_output, write_run_info
    from microtrial.io.taxonomy import read_species_reference, write_taxonomy
    from microtrial.taxonomy import K, classify_sequences

    if not 0.0 <= confidence <= 1.0:
        raise OptionError("taxonomy.confidence", f"{confidence} is not between 0 and 1")
    if max_species < 1:
        raise OptionError("classify.max_species", f"must be >= 1, got {max_species}")
    check_primers(primer_f, primer_r)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    queries = read_fasta(sequences, as_dna=True)  # gapped or RNA ASVs classify as plain DNA
    seqs_path, tax_path = reference_files(reference, ref_seqs, ref_taxonomy)
    species = read_species_reference(ref_species) if ref_species is not None else None
    trained, info = load_or_train(
        seqs_path, tax_path, primer_f=primer_f, primer_r=primer_r, cache_dir=cache_dir,
        use_cache=use_cache,
    )
    timings["model"] = round(time.perf_counter() - t0, 3)
    t1 = time.perf_counter()
    result = classify_sequences(queries, trained, confidence=confidence, seed=seed, threads=threads,
                                species=species, max_species=max_species,
                                both_orientations=both_orientations, progress=progress)
    timings["classify"] = round(time.perf_counter() - t1, 3)
    out_dir = Path(out_dir)
    start_output(out_dir, command="classify")
    path = out_dir / "taxonomy.tsv"
    write_taxonomy(result.table, path)
    write_run_info(
        out_dir, command="classify",
        options={"sequences": sequences, "reference": reference, "ref_seqs": seqs_path,
                 "ref_taxonomy": tax_path, "ref_species": ref_species, "confidence": confidence,
                 "primer_f": primer_f, "primer_r": primer_r, "threads": threads,
                 "max_species": max_species, "both_orientations": both_orientations,
                 "k": K, "n_boot": 100},
        seeds={"bootstrap": seed}, timings=timings,
        extra={"classifier": {**info, "n_groups": trained.model.n_groups,
                              "n_reference_sequences": trained.model.n_refs},
               "reverse_complemented": result.n_reverse_complemented},
        outputs=[path],
    )
    return path


def evaluate_stage(out_dir: Path, *, reference: str = "greengenes", ref_seqs: Path | None = None,
                   ref_taxonomy: Path | None = None, confidence: float = 0.8, folds: int = 5,
                   max_test_per_fold: int | None = 500, primer_f: str | None = None,
                   primer_r: str | None = None, threads: int = 2, seed: int = 0) -> Path:
    """k-fold cross-validation on the reference; writes ``evaluation.tsv`` (+ run-info)."""
    from microtrial.io.runinfo import start_output, write_run_info
    from microtrial.io.taxonomy import read_reference
    from microtrial.taxonomy import evaluate_reference

    if not 0.0 <= confidence <= 1.0:
        raise OptionError("taxonomy.confidence", f"{confidence} is not between 0 and 1")
    check_primers(primer_f, primer_r)
    t0 = time.perf_counter()
    seqs_path, tax_path = reference_files(reference, ref_seqs, ref_taxonomy)
    ref = read_reference(seqs_path, tax_path)
    try:
        table = evaluate_reference(ref, primer_f=primer_f, primer_r=primer_r, folds=folds,
                                   confidence=confidence, max_test_per_fold=max_test_per_fold,
                                   seed=seed, threads=threads)
    except ValueError as exc:
        raise InputError(seqs_path, str(exc)) from exc
    out_dir = Path(out_dir)
    start_output(out_dir, command="classify --evaluate")
    path = out_dir / "evaluation.tsv"
    with atomic_open(path) as fh:
        table.to_csv(fh, sep="\t", index=False, float_format="%.4f")
    write_run_info(out_dir, command="classify --evaluate",
                   options={"reference": reference, "ref_seqs": seqs_path, "ref_taxonomy": tax_path,
                            "confidence": confidence, "folds": folds,
                            "max_test_per_fold": max_test_per_fold, "threads": threads},
                   seeds={"folds": seed}, timings={"evaluate": round(time.perf_counter() - t0, 3)},
                   outputs=[path])
    return path
