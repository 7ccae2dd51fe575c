#!/usr/bin/python3
"""hnswlib and faiss (Debian's packages) on the vectors Iris.Bench.Search wrote: the same measures, one JSON line each.

Single-threaded like Iris' runs. Vectors are L2-normalised float32 (n x d), so inner product = cosine.
Usage: peers.py work n d q efs ef_construction build|query|save engines [seed]
  build: build each engine (saving it in work), then sweep; query: load the saved engines and sweep again (the benchmark
  interleaves rounds of Iris and the peers). QPS is per CPU-second of this thread (time.thread_time), like Iris'.
  An engine whose index and build measures (<engine>.build.json) are already in work (the benchmark's --cache) is loaded,
  not rebuilt, and reports the saved build measures. seed (default 42, Iris' default) is hnswlib's random_seed, which
  draws its levels; a saved index built with another seed is rebuilt. save: build what is not saved yet and stop (no sweeps). The vectors are memory-mapped, not copied (5.1 GB at 1M x 1280).
"""
import json, os, sys, time
import numpy as np

work, n, d, q = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
EFS = [int(x) for x in sys.argv[5].split(",")]
EFC = int(sys.argv[6]) if len(sys.argv) > 6 else 200
MODE = sys.argv[7] if len(sys.argv) > 7 else "build"
ENGINES = sys.argv[8].split(",") if len(sys.argv) > 8 else ["hnswlib", "faiss"]
SEED = int(sys.argv[9]) if len(sys.argv) > 9 else 42
queries = np.fromfile(os.path.join(work, "queries.f32"), dtype=np.float32).reshape(q, d)
# save builds without the ground truth, so it can start while the benchmark still computes it.
truth = None if MODE == "save" else np.fromfile(os.path.join(work, "truth.i32"), dtype=np.int32).reshape(q, 10)


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
    # Anonymous memory only: the memory-mapped vector file's pages are resident while read but belong to the file.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def data():
    return np.memmap(os.path.join(work, "vectors.f32"), dtype=np.float32, mode="r", shape=(n, d))


def built(name):
    """The saved build measures of an engine whose index is in work too (built with this ef_construction), else None."""
    path = os.path.join(work, name + ".build.json")
    measures = json.load(open(path)) if os.path.exists(path) else None
    if not measures or measures.pop("ef_construction", None) != EFC or measures.pop("seed", 42) != SEED:
        return None
    return measures


def save_built(name, measures):
    with open(os.path.join(work, name + ".build.json"), "w") as f:
        json.dump(dict(measures, ef_construction=EFC, seed=SEED), f)


def run_hnswlib():
    import hnswlib
    path = os.path.join(work, "hnswlib.bin")
    out = {"engine": "hnswlib " + getattr(hnswlib, "__version__", "0.6.2")}
    h = hnswlib.Index(space="ip", dim=d)
    if MODE != "query" and not (os.path.exists(path) and built("hnswlib")):
        x = data()
        base = rss_mb()
        t, cpu = time.perf_counter(), time.thread_time()
        h.init_index(max_elements=n, M=16, ef_construction=EFC, random_seed=SEED)
        h.set_num_threads(1)
        # In slices, so the memory-mapped vectors are read as they are added rather than all at once.
        for at in range(0, n, 65536):
            h.add_items(np.ascontiguousarray(x[at:at + 65536]), np.arange(at, min(n, at + 65536)), num_threads=1)
        measures = dict(build_s=time.perf_counter() - t, build_cpu_s=time.thread_time() - cpu, bytes_per_vector=(rss_mb() - base) * 1024 * 1024 / n)
        del x
        h.save_index(path)
        save_built("hnswlib", measures)
        out.update(measures)
    elif MODE == "save":
        return out | built("hnswlib")
    else:
        out.update(built("hnswlib") if MODE == "build" else {})
        h.load_index(path, max_elements=n)
    if MODE == "save":
        return out
    h.set_num_threads(1)
    rows = []
    for ef in EFS:
        h.set_ef(max(ef, 10))
        r, qps, wall, p99 = measure(lambda x: h.knn_query(x, k=10, num_threads=1)[0][0])
        rows.append({"ef": ef, "recall": r, "qps": qps, "qps_wall": wall, "p99_ms": p99})
    out["sweep"] = rows
    return out


def run_faiss():
    import faiss
    faiss.omp_set_num_threads(1)
    path = os.path.join(work, "faiss.index")
    out = {"engine": "faiss " + faiss.__version__ + " IndexHNSWFlat"}
    x = data()
    if MODE != "query" and not (os.path.exists(path) and built("faiss")):
        base = rss_mb()
        t, cpu = time.perf_counter(), time.thread_time()
        f = faiss.IndexHNSWFlat(d, 16, faiss.METRIC_INNER_PRODUCT)
        f.hnsw.efConstruction = EFC
        for at in range(0, n, 65536):
            f.add(np.ascontiguousarray(x[at:at + 65536]))
        measures = dict(build_s=time.perf_counter() - t, build_cpu_s=time.thread_time() - cpu, bytes_per_vector=(rss_mb() - base) * 1024 * 1024 / n)
        faiss.write_index(f, path)
        save_built("faiss", measures)
        out.update(measures)
    elif MODE == "save":
        return out | built("faiss")
    else:
        out.update(built("faiss") if MODE == "build" else {})
        f = faiss.read_index(path)
    if MODE == "save":
        return out
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
    return out


# One engine at a time, each dropped before the next (at 1M each holds a 5 GB copy of the vectors).
for engine, run in (("hnswlib", run_hnswlib), ("faiss", run_faiss)):
    if engine in ENGINES:
        print(json.dumps(run()), flush=True)
