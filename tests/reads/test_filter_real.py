"""filterAndTrim on the 13 real MiSeq SOP samples against R DADA2 1.26's own counts.

Expected counts: R 4.2.2, dada2 1.26.0 (Debian r-bioc-dada2), on this project's machine:
    filterAndTrim(fnF, filtF, fnR, filtR, truncLen=c(240,160), maxN=0, maxEE=c(2,2),
                  truncQ=2, rm.phix=TRUE, multithread=2)
(reads.out column, copied by hand from R's printout).
"""

from __future__ import annotations

import pytest

from microtrial.reads import FilterParams, filter_pair, find_samples, read_pair

R_DADA2 = {
    "F3D1": (5869, 5299), "F3D141": (5958, 5463), "F3D142": (3183, 2914), "F3D143": (3178, 2941),
    "F3D144": (4827, 4312), "F3D145": (7377, 6741), "F3D146": (5021, 4560), "F3D150": (5509, 5032),
    "F3D3": (6758, 6250), "F3D5": (4448, 4052), "F3D7": (5129, 4765), "F3D8": (5294, 4871),
    "F3D9": (7070, 6504),
}


@pytest.mark.requires_shared
def test_filter_counts_equal_r_dada2(shared_data):
    samples = find_samples(shared_data / "miseq-sop")
    assert [s.sample_id for s in samples] == sorted(R_DADA2)
    got = {}
    for s in samples:
        f, r = read_pair(s)
        ff, _ = filter_pair(f, r, FilterParams(trunc_len=240, max_ee=2.0), FilterParams(trunc_len=160, max_ee=2.0))
        got[s.sample_id] = (f.n_reads, ff.n_reads)
    assert got == R_DADA2
