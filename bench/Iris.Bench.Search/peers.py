#!/usr/bin/python3
"""hnswlib and faiss (Debian's packages) on the vectors Iris.Bench.Search wrote: the same measures, one JSON line each.

Single-threaded like Iris' runs. Vectors are L2-normalised float32 (n x d), so inner product = cosine.
"""
import json, os, sys, time
import numpy as np

work, n, d, q = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
data = np.fromfile(os.path.join(work, "vectors.f32"), dtype=np.float32).reshape(n, d)
queries = np.fromfile(os.path.join(work, "queries.f32"), dtype=np.float32).reshape(q, d)
truth = np.fromfile(os.path.join(work, "truth.i32"), dtype=np.int32).reshape(q, 10)
EFS = [int(x) for x in sys.argv[5].split(",")] if len(sys.argv) > 5 else [16, 32, 64, 128, 256, 512]


def measure(search, truth=truth):
    lat = []
    hits = 0
    for i in range(q):
        t = time.perf_counter()
        labels = search(queries[i:i + 1])
        lat.append(time.perf_counter() - t)
        hits += len(set(int(x) for x in labels[:10]) & set(int(x) for x in truth[i]))
    lat.sort()
    return hits / (q * 10.0), q / sum(lat), lat[int(0.99 * (q - 1))] * 1000


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


import hnswlib
base = rss_mb()
t = time.perf_counter()
h = hnswlib.Index(space="ip", dim=d)
h.init_index(max_elements=n, M=16, ef_construction=200, random_seed=42)
h.set_num_threads(1)
h.add_items(data, np.arange(n), num_threads=1)
build = time.perf_counter() - t
mem = (rss_mb() - base) * 1024 * 1024 / n
rows = []
for ef in EFS:
    h.set_ef(max(ef, 10))
    r, qps, p99 = measure(lambda x: h.knn_query(x, k=10, num_threads=1)[0][0])
    rows.append({"ef": ef, "recall": r, "qps": qps, "p99_ms": p99})
print(json.dumps({"engine": "hnswlib " + getattr(hnswlib, "__version__", "0.6.2"), "build_s": build, "bytes_per_vector": mem, "sweep": rows}), flush=True)
del h

import faiss
faiss.omp_set_num_threads(1)
base = rss_mb()
t = time.perf_counter()
f = faiss.IndexHNSWFlat(d, 16, faiss.METRIC_INNER_PRODUCT)
f.hnsw.efConstruction = 200
f.add(data)
build = time.perf_counter() - t
mem = (rss_mb() - base) * 1024 * 1024 / n
rows = []
for ef in EFS:
    f.hnsw.efSearch = max(ef, 10)
    r, qps, p99 = measure(lambda x: f.search(x, 10)[1][0])
    rows.append({"ef": ef, "recall": r, "qps": qps, "p99_ms": p99})
filtered = {}
for share in (0.2, 0.1, 0.05, 0.02, 0.01, 0.005):
    modulo = int(round(1 / share))
    name = ("%g" % (share * 100)) + "%"
    ids = np.array([i for i in range(n) if ((i * 2654435761) % 2**32 >> 7) % modulo == 3], dtype=np.int64)
    sims = queries @ data[ids].T
    ftruth = ids[np.argsort(-sims, axis=1)[:, :10]]
    try:
        sel = faiss.IDSelectorBatch(ids)
        params = faiss.SearchParametersHNSW(sel=sel, efSearch=128)
        r, qps, p99 = measure(lambda x: f.search(x, 10, params=params)[1][0], ftruth)
        filtered[name] = {"qps": qps, "p99_ms": p99, "recall": r}
    except Exception as e:  # faiss builds without search-time selectors
        filtered[name] = {"error": str(e)[:80]}
print(json.dumps({"engine": "faiss " + faiss.__version__ + " IndexHNSWFlat", "build_s": build, "bytes_per_vector": mem, "sweep": rows, "filtered": filtered}), flush=True)
