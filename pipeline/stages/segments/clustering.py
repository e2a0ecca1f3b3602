"""Clustering the feature matrix: UMAP + HDBSCAN with a tuned segment count (:class:`Segmenter`).

Clustering
    UMAP (umap-learn) with ``min_dist=0`` to ``n_components`` dims (default 8), HDBSCAN (the
    ``hdbscan`` package, ``prediction_data=True``) on that embedding. Tuning: unless given,
    ``min_cluster_size`` is searched over 0.5%..8% of the fitted customers and
    ``min_samples`` over {5, 15} (capped by the cluster size), on a subsample of at most
    :data:`TUNE_SAMPLE` points of the embedding (cluster size scaled to that subsample) with
    ``eom`` selection (``leaf`` is tried too when no ``eom`` candidate lands in range). Among
    the candidates whose segment count is in ``[min_segments, max_segments]`` the highest
    HDBSCAN relative validity (a fast DBCV approximation) wins; ties go to less noise, then
    bigger clusters. When none is in range, the grid is widened once and then the count
    closest to the range is taken and a warning is recorded. The final HDBSCAN runs on the
    whole fit sample with the winning parameters (cluster size scaled back).

Noise
    HDBSCAN noise points get, by default (``segments.assign_noise``), the segment with the
    highest soft membership (``all_points_membership_vectors`` / ``membership_vector``),
    falling back to the segment of the nearest clustered point when every membership is 0.
    ``was_noise`` keeps the flag; ``membership_strength`` is HDBSCAN's probability for
    clustered points and the winning soft membership for former noise points. With
    ``assign_noise: false`` noise keeps ``segment_id = -1`` ("Unassigned").

Scale
    The stage fits on a seeded random sample of ``segments.fit_sample_size`` customers and
    assigns the rest with :meth:`Segmenter.predict` (``UMAP.transform`` +
    ``hdbscan.approximate_predict``), exactly like next month's customers under reuse.
    UMAP uses ``low_memory=True`` and 200 epochs above 10,000 points (400 below;
    ``segments.n_epochs`` overrides), and :data:`TRANSFORM_EPOCHS` when placing new points
    (they start at the weighted mean of their neighbours). The 2-D plot map is a UMAP fitted
    on at most :data:`PLOT_FIT_SAMPLE` customers; every other customer is placed at the
    inverse-distance mean of its 10 nearest fitted neighbours in the clustering embedding
    (segment assignment itself always uses UMAP transform + ``approximate_predict``).

Determinism
    Tuning and HDBSCAN are deterministic. UMAP is the only possible source of run-to-run
    variation: ``segments.deterministic: true`` (the default) passes ``random_state=seed``,
    which makes umap-learn run its SGD on one thread and gives identical assignments for the
    same data + config + seed. ``deterministic: false`` runs UMAP unseeded on all cores, which
    is not exactly reproducible and pays off only on machines with many cores
    (benchmarks/RESULTS.md, Segments).
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import numpy as np

from segment_report.pipeline.stages.findings import note


#: Fewer customers than this (or fewer distinct feature rows) -> one segment, with a warning.
MIN_CUSTOMERS = 50
TUNE_SAMPLE = 5000
TRANSFORM_EPOCHS = 30
#: customers outside the fitted sample are assigned this many at a time. UMAP's transform
#: draws its random numbers per call, so a row's embedding depends on the rows it is
#: transformed with: fixed chunks give the same assignment whether they run one after the
#: other or spread over a cluster's workers.
ASSIGN_CHUNK = 20_000
#: The 2-D plot UMAP is fitted on at most this many points; the others are interpolated.
PLOT_FIT_SAMPLE = 5000


def _epochs(n: int, n_epochs: int | None) -> int:
    if n_epochs is not None:
        return n_epochs
    return 200 if n > 10_000 else 400


def cache_compiled_kernels() -> int:
    """Let numba keep the compiled code of umap-learn and pynndescent on disk.

    Most of their ``numba.njit`` functions are declared without ``cache=True``, so every fresh
    process compiled them again (about 35 s before a first fit on 2 cores). Turning on numba's
    own cache for each module-level kernel before its first call stores the machine code where
    numba keeps caches (``__pycache__`` beside the library when writable, else the user cache
    folder; ``NUMBA_CACHE_DIR`` overrides). Numba checks the source file's time stamp, so an
    upgraded library compiles afresh. Returns how many kernels were switched to caching.
    """
    import os

    import numba
    from numba.core.errors import NumbaWarning

    # numba's OpenMP threading layer (what numba 0.65 picks here) keeps its threads spinning
    # beside torch's own OpenMP pool: the next month's review scoring in the same process
    # (the demo) ran 10x slower (501 texts in 53 s instead of 5 s). The workqueue layer has no
    # such pool; NUMBA_THREADING_LAYER still wins when set.
    if "NUMBA_THREADING_LAYER" not in os.environ:
        numba.config.THREADING_LAYER = "workqueue"
    # a kernel that uses dynamic globals cannot be cached: numba then compiles it as before
    # and says so, which is no news for the user (set on every call: warning filters can be reset)
    warnings.filterwarnings("ignore", message="Cannot cache compiled function", category=NumbaWarning)
    return _switch_kernels_to_disk_cache()


@functools.cache
def _switch_kernels_to_disk_cache() -> int:
    import sys

    import pynndescent  # noqa: F401  (imported by umap too; named so its modules are loaded)
    import umap  # noqa: F401
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    switched = 0
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] not in ("umap", "pynndescent"):
            continue
        for obj in list(vars(module).values()):
            if (isinstance(obj, Dispatcher) and obj.__module__ == name
                    and isinstance(obj._cache, NullCache) and not obj.signatures):
                obj.enable_caching()
                switched += 1
    return switched


def make_umap(n: int, n_components: int, n_neighbors: int, min_dist: float, seed: int,
              deterministic: bool, n_epochs: int | None = None):
    """A UMAP for ``n`` points (components and neighbours capped to what ``n`` allows), seeded
    and single-threaded when ``deterministic``."""
    import umap

    cache_compiled_kernels()
    return umap.UMAP(
        n_components=min(n_components, max(2, n - 2)),
        n_neighbors=max(2, min(n_neighbors, n - 1)),
        min_dist=min_dist,
        metric="euclidean",
        n_epochs=_epochs(n, n_epochs),
        low_memory=True,
        random_state=seed if deterministic else None,
        transform_seed=seed,
        n_jobs=1 if deterministic else -1,
        verbose=False,
    )


def make_hdbscan(min_cluster_size: int, min_samples: int, method: str, validity: bool = False):
    """An HDBSCAN that keeps prediction data (for assigning new points); ``validity`` also builds
    the minimum spanning tree its relative validity needs."""
    import hdbscan

    return hdbscan.HDBSCAN(min_cluster_size=int(min_cluster_size), min_samples=int(min_samples),
                           cluster_selection_method=method, prediction_data=True,
                           gen_min_span_tree=validity, core_dist_n_jobs=1)


def membership_matrix(member: Any, n_rows: int) -> np.ndarray:
    """hdbscan returns a 1-D vector when there is one cluster: make it (n_rows, k)."""
    member = np.nan_to_num(np.asarray(member, dtype=float))
    return member.reshape(n_rows, -1)


def n_clusters(labels: np.ndarray) -> int:
    """How many clusters ``labels`` hold, noise (-1) not counted."""
    return int(len(set(labels.tolist()) - {-1}))


class Segmenter:
    """UMAP + HDBSCAN with automatic tuning of the segment count (scikit-learn contract).

    ``Segmenter(min_segments=4, max_segments=10).fit(X).labels_``

    Args:
        n_components: UMAP dimensions for clustering.
        n_neighbors: UMAP neighbourhood size (capped at n - 1).
        min_dist: UMAP ``min_dist`` (0 packs clusters tightly, best for density clustering).
        min_segments, max_segments: the wanted range of segment counts.
        min_cluster_size, min_samples: fix HDBSCAN's parameters instead of tuning them.
        assign_noise: give noise points their most likely segment.
        n_epochs: UMAP epochs (``None``: 200 above 10,000 points, else 400).
        deterministic: seeded single-thread UMAP (reproducible, slower).
        random_state: the seed.

    Fitted attributes: ``umap_``, ``umap_2d_``, ``clusterer_``, ``embedding_``,
    ``embedding_2d_``, ``raw_labels_`` (HDBSCAN, -1 = noise), ``labels_`` (after noise
    assignment), ``strength_``, ``was_noise_``, ``n_segments_``, ``noise_share_``,
    ``min_cluster_size_``, ``min_samples_``, ``selection_method_``, ``tuning_`` (every
    candidate tried), ``warnings_``.
    """

    def __init__(self, n_components: int = 8, n_neighbors: int = 30, min_dist: float = 0.0,
                 min_segments: int = 4, max_segments: int = 10, min_cluster_size: int | None = None,
                 min_samples: int | None = None, assign_noise: bool = True,
                 n_epochs: int | None = None, deterministic: bool = False,
                 random_state: int = 0) -> None:
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.min_segments = min_segments
        self.max_segments = max_segments
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.assign_noise = assign_noise
        self.n_epochs = n_epochs
        self.deterministic = deterministic
        self.random_state = random_state

    # -- tuning
    def _candidates(self, n: int, fractions: tuple[float, ...]) -> list[tuple[int, int]]:
        if self.min_cluster_size is not None:
            sizes = [self.min_cluster_size]
        else:
            sizes = sorted({max(5, int(round(f * n))) for f in fractions})
        out = []
        for mcs in sizes:
            samples = [self.min_samples] if self.min_samples is not None else [5, 15]
            for ms in sorted({max(1, min(s, mcs)) for s in samples}):
                out.append((mcs, ms))
        return out

    def _tune(self, emb: np.ndarray) -> tuple[int, int, str]:
        rng = np.random.default_rng(self.random_state)
        n = len(emb)
        idx = np.sort(rng.choice(n, TUNE_SAMPLE, replace=False)) if n > TUNE_SAMPLE else np.arange(n)
        sub = emb[idx]
        m = len(sub)
        self.tuning_: list[dict[str, Any]] = []

        def run(fractions: tuple[float, ...], method: str) -> None:
            for mcs, ms in self._candidates(m, fractions):
                if any(t["min_cluster_size_tune"] == mcs and t["min_samples"] == ms
                       and t["method"] == method for t in self.tuning_):
                    continue
                cl = make_hdbscan(mcs, ms, method, validity=True).fit(sub)
                k = n_clusters(cl.labels_)
                try:
                    validity = float(cl.relative_validity_) if k >= 2 else float("-inf")
                except (ValueError, ZeroDivisionError, IndexError):
                    validity = float("-inf")
                if not math.isfinite(validity):
                    validity = float("-inf")
                self.tuning_.append({"min_cluster_size_tune": mcs, "min_samples": ms, "method": method,
                                     "n_segments": k, "noise_share": float(np.mean(cl.labels_ == -1)),
                                     "relative_validity": validity})

        base = (0.005, 0.01, 0.02, 0.035, 0.05, 0.08)
        run(base, "eom")
        if not self._in_range():
            run(base, "leaf")
        if not self._in_range():
            ks = [t["n_segments"] for t in self.tuning_]
            wider = (0.12, 0.2) if min(ks) > self.max_segments else (0.002, 0.003)
            run(wider, "eom")
            run(wider, "leaf")
        pool = self._in_range()
        if not pool:
            def gap(t: dict[str, Any]) -> int:
                return max(self.min_segments - t["n_segments"], t["n_segments"] - self.max_segments, 0)
            best_gap = min(gap(t) for t in self.tuning_)
            pool = [t for t in self.tuning_ if gap(t) == best_gap]
            self.warnings_.append(note("no_setting_in_range", min_segments=self.min_segments,
                                       max_segments=self.max_segments,
                                       closest=pool[0]["n_segments"]))
        best = max(pool, key=lambda t: (t["relative_validity"], -t["noise_share"],
                                        t["min_cluster_size_tune"], t["method"] == "eom"))
        for t in self.tuning_:
            t["chosen"] = t is best
        mcs = best["min_cluster_size_tune"]
        if self.min_cluster_size is None:
            mcs = max(5, int(round(mcs * n / m)))
        return mcs, best["min_samples"], best["method"]

    def _in_range(self) -> list[dict[str, Any]]:
        return [t for t in self.tuning_ if self.min_segments <= t["n_segments"] <= self.max_segments]

    # -- fit / predict
    def fit(self, X: np.ndarray, y: Any = None) -> Segmenter:
        """Fit UMAP (clustering and 2-D), tune and fit HDBSCAN, assign noise.

        Args:
            X: the feature matrix (rows = customers), at least :data:`MIN_CUSTOMERS` rows.

        Returns:
            ``self``.
        """
        X = np.asarray(X, dtype=float)
        n = len(X)
        self.warnings_: list[dict[str, Any]] = []
        self.umap_ = make_umap(n, self.n_components, self.n_neighbors, self.min_dist,
                                self.random_state, self.deterministic, self.n_epochs)
        rng = np.random.default_rng(self.random_state + 2)
        self.plot_index_ = (np.sort(rng.choice(n, PLOT_FIT_SAMPLE, replace=False))
                            if n > PLOT_FIT_SAMPLE else np.arange(n))
        n_plot = len(self.plot_index_)
        self.umap_2d_ = make_umap(n_plot, 2, self.n_neighbors, 0.1, self.random_state + 1,
                                   self.deterministic, self.n_epochs)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*n_jobs.*")
            warnings.filterwarnings("ignore", category=UserWarning, module="umap")
            self.embedding_ = self.umap_.fit_transform(X)
            plot_2d = self.umap_2d_.fit_transform(X[self.plot_index_])
        self.embedding_2d_ = np.empty((n, 2))
        self.embedding_2d_[self.plot_index_] = plot_2d
        others = np.setdiff1d(np.arange(n), self.plot_index_)
        if len(others):
            self.embedding_2d_[others] = self._interpolate_2d(self.embedding_[others])
        if self.min_cluster_size is not None and self.min_samples is not None:
            self.tuning_ = []
            mcs, ms, method = self.min_cluster_size, self.min_samples, "eom"
        else:
            mcs, ms, method = self._tune(self.embedding_)
        self.min_cluster_size_, self.min_samples_, self.selection_method_ = mcs, ms, method
        self.clusterer_ = make_hdbscan(mcs, ms, method).fit(self.embedding_)
        raw = self.clusterer_.labels_.astype(int)
        self.raw_labels_ = raw
        self.n_segments_ = n_clusters(raw)
        self.noise_share_ = float(np.mean(raw == -1))
        if self.n_segments_ == 0:
            self.labels_ = np.zeros(n, dtype=int)
            self.strength_ = np.ones(n)
            self.was_noise_ = np.zeros(n, dtype=bool)
            self.n_segments_ = 1
            self.warnings_.append(note("no_dense_groups"))
            return self
        if not (self.min_segments <= self.n_segments_ <= self.max_segments):
            self.warnings_.append(note("segments_out_of_range", segments=self.n_segments_,
                                       min_segments=self.min_segments,
                                       max_segments=self.max_segments))
        self.labels_, self.strength_, self.was_noise_ = self._resolve(
            raw, self.clusterer_.probabilities_.astype(float), self.embedding_, fitted=True)
        return self

    def _resolve(self, labels: np.ndarray, strength: np.ndarray, emb: np.ndarray,
                 fitted: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import hdbscan

        labels = labels.copy()
        strength = strength.copy()
        noise = labels == -1
        if not self.assign_noise or not noise.any():
            return labels, np.where(noise, 0.0, strength), noise
        if fitted:
            member = membership_matrix(hdbscan.all_points_membership_vectors(self.clusterer_), len(labels))[noise]
        else:
            member = membership_matrix(hdbscan.membership_vector(self.clusterer_, emb[noise]), int(noise.sum()))
        best = member.argmax(axis=1)
        best_val = member.max(axis=1)
        zero = ~(best_val > 0)
        if zero.any():
            from sklearn.neighbors import NearestNeighbors

            core = self.clusterer_.labels_ != -1
            nn = NearestNeighbors(n_neighbors=1).fit(self.embedding_[core])
            _, j = nn.kneighbors(emb[noise][zero])
            best[zero] = self.clusterer_.labels_[core][j[:, 0]]
        labels[noise] = best
        strength[noise] = np.clip(best_val, 0.0, 1.0)
        return labels, strength, noise

    def _interpolate_2d(self, emb: np.ndarray, k: int = 10) -> np.ndarray:
        """Plot coordinates for new points: inverse-distance mean of the 2-D positions of their
        ``k`` nearest fitted points in the clustering embedding (a second UMAP transform would
        double the assign time for a picture)."""
        from sklearn.neighbors import NearestNeighbors

        ref = self.embedding_[self.plot_index_]
        k = min(k, len(ref))
        dist, idx = NearestNeighbors(n_neighbors=k).fit(ref).kneighbors(emb)
        w = 1.0 / (dist + 1e-6)
        w /= w.sum(axis=1, keepdims=True)
        return np.einsum("nk,nkd->nd", w, self.embedding_2d_[self.plot_index_][idx])

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Assign new rows to the fitted segments (UMAP transform + ``approximate_predict``).

        Args:
            X: feature matrix built by the same :class:`FeatureTransformer`.

        Returns:
            ``(labels, strength, was_noise, embedding_2d)`` with HDBSCAN labels (-1 only when
            ``assign_noise`` is off).
        """
        import hdbscan

        cache_compiled_kernels()  # a model loaded from disk never went through make_umap
        X = np.asarray(X, dtype=float)
        fit_epochs = self.umap_.n_epochs
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="umap")
            # umap-learn runs n_epochs // 3 epochs in transform; new points start at the
            # weighted mean of their neighbours, so TRANSFORM_EPOCHS is plenty
            self.umap_.n_epochs = 3 * TRANSFORM_EPOCHS
            try:
                emb = self.umap_.transform(X)
            finally:
                self.umap_.n_epochs = fit_epochs
        emb2 = self._interpolate_2d(emb)
        if n_clusters(self.raw_labels_) == 0:
            n = len(X)
            return np.zeros(n, dtype=int), np.ones(n), np.zeros(n, dtype=bool), emb2
        labels, strength = hdbscan.approximate_predict(self.clusterer_, emb)
        labels, strength, noise = self._resolve(np.asarray(labels, dtype=int),
                                                np.asarray(strength, dtype=float), emb, fitted=False)
        return labels, strength, noise, emb2



def _predict_chunk(X: np.ndarray, segmenter: Segmenter) -> tuple[np.ndarray, ...]:
    return segmenter.predict(X)


def predict_in_chunks(segmenter: Segmenter, X: np.ndarray, executor: Any = None, chunk: int = ASSIGN_CHUNK
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:meth:`Segmenter.predict` over chunks of ``chunk`` rows, each a call of ``executor``
    (default: one after the other in this process); the same result either way."""
    from segment_report.pipeline.engine import LocalExecutor, chunked

    executor = executor or LocalExecutor()
    chunks = chunked(X, chunk)
    shared = executor.share(segmenter) if len(chunks) > 1 else segmenter
    parts = executor.gather(executor.map(_predict_chunk, chunks, segmenter=shared))
    return tuple(np.concatenate([part[i] for part in parts]) for i in range(4))  # type: ignore[return-value]
