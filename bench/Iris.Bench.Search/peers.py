#!/usr/bin/python3
"""hnswlib and faiss (Debian's packages) on the vectors Iris.Bench.Search wrote: the same measures, one JSON line each.

Single-threaded like Iris' runs. Vectors are L2-normalised float32 (n x d), so inner product = cosine.
Usage: peers.py work n d q efs ef_construction build|query engines
  build: build each engine (saving it in work), then sweep; query: load the saved engines and sweep again (the benchmark
  interleaves rounds of Iris and the peers). QPS is per CPU-second of this thread (time.thread_time), like Iris'.
"""
import json, os, sys, time
import numpy as np

work, n, d, q = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
EFS = [int(x) for x in sys.argv[5].split(",")]
EFC = int(sys.argv[6]) if len(sys.argv) > 6 else 200
MODE = sys.argv[7] if len(sys.argv) > 7 else "build"
ENGINES = sys.argv[8].split(",") if len(sys.argv) > 8 else ["hnswlib", "faiss"]
queries = np.fromfile(os.path.join(work, "queries.f32"), dtype=np.float32).reshape(q, d)
truth = np.fromfile(os.path.join(work, "truth.i32"), dtype=np.int32).reshape(q, 10)


def measure(search, truth=truth):
    for i in range(min(20, q)):
        search(queries[i:i + 1])  # warm-up, like Iris'
    lat = []
    found = []
    cpu = time.thread_time()
    for i in range(q):
        t = time.perf_counter()
        found.append(search(queries[i:i + 1]))
        lat.append(time.perf_counter() - t)
    cpu = time.thread_time() - cpu
    hits = sum(len(set(int(x) for x in f[:10]) & set(int(x) for x in truth[i])) for i, f in enumerate(found))
    lat.sort()
    return hits / (q * 10.0), q / cpu, q / sum(lat), lat[int(0.99 * (q - 1))] * 1000


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def data():
    return np.fromfile(os.path.join(work, "vectors.f32"), dtype=np.float32).reshape(n, d)


if "hnswlib" in ENGINES:
    import hnswlib
    path = os.path.join(work, "hnswlib.bin")
    h = hnswlib.Index(space="ip", dim=d)
    out = {"engine": "hnswlib " + getattr(hnswlib, "__version__", "0.6.2")}
    if MODE == "build":
        x = data()
        base = rss_mb()
        t, cpu = time.perf_counter(), time.thread_time()
        h.init_index(max_elements=n, M=16, ef_construction=EFC, random_seed=42)
        h.set_num_threads(1)
        h.add_items(x, np.arange(n), num_threads=1)
        out.update(build_s=time.perf_counter() - t, build_cpu_s=time.thread_time() - cpu, bytes_per_vector=(rss_mb() - base) * 1024 * 1024 / n)
        del x
        h.save_index(path)
    else:
        h.load_index(path, max_elements=n)
    h.set_num_threads(1)
    rows = []
    for ef in EFS:
        h.set_ef(max(ef, 10))
        r, qps, wall, p99 = measure(lambda x: h.knn_query(x, k=10, num_threads=1)[0][0])
        rows.append({"ef": ef, "recall": r, "qps": qps, "qps_wall": wall, "p99_ms": p99})
    out["sweep"] = rows
    print(json.dumps(out), flush=True)
    del h

if "faiss" in ENGINES:
    import faiss
    faiss.omp_set_num_threads(1)
    path = os.path.join(work, "faiss.index")
    out = {"engine": "faiss " + faiss.__version__ + " IndexHNSWFlat"}
    x = data()
    if MODE == "build":
        base = rss_mb()
        t, cpu = time.perf_counter(), time.thread_time()
        f = faiss.IndexHNSWFlat(d, 16, faiss.METRIC_INNER_PRODUCT)
        f.hnsw.efConstruction = EFC
        f.add(x)
        out.update(build_s=time.perf_counter() - t, build_cpu_s=time.thread_time() - cpu, bytes_per_vector=(rss_mb() - base) * 1024 * 1024 / n)
        faiss.write_index(f, path)
    else:
        f = faiss.read_index(path)
    rows = []
    for ef in EFS:
        f.hnsw.efSearch = max(ef, 10)
        r, qps, wall, p99 = measure(lambda x: f.search(x, 10)[1][0])
        rows.append({"ef": ef, "recall": r, "qps": qps, "qps_wall": wall, "p99_ms": p99})
    out["sweep"] = rows
    if MODE == "build":
        filtered = {}
        for share in (0.1, 0.05, 0.02, 0.01):
            modulo = int(round(1 / share))
            name = ("%g" % (share * 100)) + "%"
            ids = np.array([i for i in range(n) if ((i * 2654435761) % 2**32 >> 7) % modulo == 3], dtype=np.int64)
            sims = queries @ x[ids].T
            ftruth = ids[np.argsort(-sims, axis=1)[:, :10]]
            try:
                sel = faiss.IDSelectorBatch(ids)
                params = faiss.SearchParametersHNSW(sel=sel, efSearch=128)
                r, qps, wall, p99 = measure(lambda y: f.search(y, 10, params=params)[1][0], ftruth)
                filtered[name] = {"qps": qps, "qps_wall": wall, "p99_ms": p99, "recall": r}
            except Exception as e:  # faiss builds without search-time selectors
                filtered[name] = {"error": str(e)[:80]}
        out["filtered"] = filtered
    print(json.dumps(out), flush=True)
