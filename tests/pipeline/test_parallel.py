"""microtrial.parallel: map_ordered keeps input order, and the loops wired to it (rarefaction
repeats, PERMANOVA permutation batches, classification chunks) give the same numbers on a
2-worker Dask LocalCluster as locally. Workers are threads (processes=False) to keep the
test fast; ``--jobs N`` uses processes, through the same code."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from microtrial.parallel import dask_executor, map_ordered, use_executor
from microtrial.table import FeatureTable


@pytest.fixture(scope="module")
def executor():
    with dask_executor(jobs=2, processes=False) as ex:
        yield ex


def _slow_square(x: int) -> int:
    time.sleep(0.02 * (5 - x))  # later items finish first
    return x * x


def test_map_ordered_keeps_input_order(executor) -> None:
    items = list(range(6))
    want = [x * x for x in items]
    assert map_ordered(_slow_square, items) == want
    assert map_ordered(_slow_square, items, threads=3) == want
    seen: list[int] = []
    got = map_ordered(_slow_square, items, executor=executor,
                      progress=lambda _d, done, _t: seen.append(done))
    assert got == want
    assert seen == list(range(7))  # 0, then once per finished task


def test_shared_objects_go_with_every_task(executor) -> None:
    big = np.arange(1000)
    got = map_ordered(lambda i, arr, k: int(arr[i] * k), [3, 1, 2], shared=(big, 10), executor=executor)
    assert got == [30, 10, 20]


def test_rarefy_and_permanova_on_the_cluster_equal_local(executor) -> None:
    from microtrial.diversity import permanova, rarefy

    rng = np.random.default_rng(4)
    counts = rng.poisson(4, size=(40, 16))
    ft = FeatureTable(sp.csr_matrix(counts), tuple(f"f{i}" for i in range(40)),
                      tuple(f"s{i}" for i in range(16)))
    local = rarefy(ft, 80, seed=9, iterations=4)
    x = rng.normal(size=(16, 3))
    dist = pd.DataFrame(np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1)), index=ft.sample_ids,
                        columns=ft.sample_ids)
    md = pd.DataFrame({"group": ["a", "b"] * 8, "subject": [f"p{i // 2}" for i in range(16)]},
                      index=ft.sample_ids)
    perm_local = permanova(dist, md, ["group"], permutations=499, seed=3)
    with use_executor(executor):
        remote = rarefy(ft, 80, seed=9, iterations=4)
        perm_remote = permanova(dist, md, ["group"], permutations=499, seed=3)
    assert remote.sample_ids == local.sample_ids and remote.feature_ids == local.feature_ids
    assert (remote.data != local.data).nnz == 0
    pd.testing.assert_frame_equal(perm_remote, perm_local, check_exact=True)
