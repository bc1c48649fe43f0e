"""Residual k-means: the classic initialisation for additive codes."""

import numpy as np


def nearest(points, centroids):
    """Index of the nearest centroid (squared Euclidean) for each point."""
    scores = points @ centroids.T
    scores *= -2.0
    scores += np.einsum("kd,kd->k", centroids, centroids)
    return scores.argmin(axis=1)


def kmeans(points, num_clusters, iterations, rng, weights=None):
    """Lloyd's k-means, seeded by `rng`; empty clusters keep their centroid.

    With `weights` (non-negative, one per point), each centroid is the
    weighted mean of its points: the weighted squared error falls.

    Returns:
        `(centroids, assignment)`: float32 (num_clusters, D) and int (N,).
    """
    start = rng.choice(len(points), num_clusters, replace=False)
    centroids = points[np.sort(start)].astype(np.float32)
    for _ in range(iterations):
        assignment = nearest(points, centroids)
        centroids = cluster_means(points, assignment, centroids, weights)
    return centroids, nearest(points, centroids)


def cluster_means(points, assignment, previous, weights=None):
    """Mean of the points of each cluster; `previous` where a cluster is empty.

    Computed as a one-hot matrix product (fast, no Python loop over points).
    With `weights`, the weighted mean (a cluster of zero weight is empty).
    """
    num_clusters = previous.shape[0]
    one_hot = np.zeros((len(points), num_clusters), np.float32)
    one_hot[np.arange(len(points)), assignment] = (
        1.0 if weights is None else weights
    )
    counts = one_hot.sum(axis=0)
    sums = one_hot.T @ points
    means = sums / np.where(counts > 0, counts, 1.0)[:, None]
    return np.where(counts[:, None] > 0, means, previous).astype(np.float32)


def residual_kmeans(
    vectors, num_codebooks, codebook_size, iterations, rng, weights=None
):
    """Residual (stage-wise) k-means, weighted by `weights` if given.

    Stage m clusters what stages 0..m-1 left unexplained. This is the
    baseline the learned recipes start from.

    Returns:
        `(codes, codebooks)`: uint8 (V, M) and float32 (M, K, D).
    """
    residual = vectors.astype(np.float32, copy=True)
    codebooks = np.zeros(
        (num_codebooks, codebook_size, vectors.shape[1]), np.float32
    )
    codes = np.zeros((len(vectors), num_codebooks), np.uint8)
    for m in range(num_codebooks):
        codebooks[m], codes[:, m] = kmeans(
            residual, codebook_size, iterations, rng, weights
        )
        residual -= codebooks[m][codes[:, m]]
    return codes, codebooks


def residual_encode(vectors, codebooks):
    """Greedy stage-wise codes: the nearest centroid of each residual."""
    residual = vectors.astype(np.float32, copy=True)
    codes = np.zeros((len(vectors), codebooks.shape[0]), np.uint8)
    for m in range(codebooks.shape[0]):
        codes[:, m] = nearest(residual, codebooks[m])
        residual -= codebooks[m][codes[:, m]]
    return codes


def progressive_kmeans(
    points, num_clusters, iterations, rng, weights=None, sample_rows=8192
):
    """k-means grown over principal components (progressive-dim clustering).

    As faiss's `ProgressiveDimClustering`: Lloyd's iterations on the first 2,
    3, 5, ... principal components, each run starting from the last one's
    centroids (padded with zeros), up to all D. In high dimension this
    escapes the poor minima that a random start leaves, which matters most on
    the nearly isotropic residuals of late stages. The principal axes and the
    narrow runs use a random sample of `sample_rows` points (they only place
    the centroids); the last run, at full width, uses every point.

    Returns:
        Float32 centroids (num_clusters, D).
    """
    dim = points.shape[1]
    sample = np.arange(len(points))
    if len(points) > sample_rows:
        sample = np.sort(rng.choice(len(points), sample_rows, replace=False))
    sample_weights = None if weights is None else weights[sample]
    subset = points[sample]
    mean = np.average(subset, axis=0, weights=sample_weights)
    centred = (subset - mean).astype(np.float32)
    weighted = centred
    if sample_weights is not None:
        weighted = centred * sample_weights[:, None]
    _, axes = np.linalg.eigh((weighted.T @ centred).astype(np.float64))
    axes = np.ascontiguousarray(axes[:, ::-1], dtype=np.float32)
    widths = sorted(
        {max(1, round(dim ** (step / 10))) for step in range(1, 10)}
    )
    widths = [width for width in widths if width < dim]
    start = np.sort(rng.choice(len(subset), num_clusters, replace=False))
    centroids = np.zeros((num_clusters, 0), np.float32)
    for width in widths:
        view = centred @ axes[:, :width]
        if not centroids.shape[1]:
            centroids = view[start]
        padding = np.zeros((num_clusters, width - centroids.shape[1]))
        centroids = np.hstack([centroids, padding.astype(np.float32)])
        for _ in range(iterations):
            assignment = nearest(view, centroids)
            centroids = cluster_means(
                view, assignment, centroids, sample_weights
            )
    if centroids.shape[1]:
        narrow = axes[:, : centroids.shape[1]]
        centroids = (centroids @ narrow.T + mean).astype(np.float32)
    else:
        centroids = subset[start].astype(np.float32)
    for _ in range(iterations):
        centroids = cluster_means(
            points, nearest(points, centroids), centroids, weights
        )
    return centroids
