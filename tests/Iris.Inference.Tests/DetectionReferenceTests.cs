using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Iris.Inference.Zoo;
using Xunit.Abstractions;

namespace Iris.Inference.Tests;

/// <summary>
/// General recognition, detection and face detection against the original networks: the TensorFlow.js MB3-CenterNet
/// and BlazeFace Iris converts, run by @tensorflow/tfjs in Node with each network's upstream preprocessing
/// (Reference/centernet-reference.mjs, Reference/blazeface-reference.mjs), on every photo the pinned packages ship. Iris' converted network, resampler and letterbox must give the same top concept and
/// the same boxes; a stretched input or a top-left letterbox moves boxes and scores well past these floors.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class DetectionReferenceTests(EngineFixture fixture, ITestOutputHelper output)
{
    /// <summary>Photos shipped by the pinned packages (people, a train, avatars, screenshots with faces).</summary>
    public static readonly string[] Photos =
    [
        Repo.MetroNorth,
        Repo.Samples,
        Repo.FaceDetect,
        Repo.FaceId,
        Repo.Vrm,
        Path.Combine(Repo.NodeModules, "@vladmandic/human/assets/screenshot-facematch.jpg"),
    ];

    [Fact]
    public async Task Iris_agrees_with_the_tensorflow_js_original_on_top_concepts_and_boxes()
    {
        var reference = await RunReferenceAsync(Photos);
        var report = new StringBuilder("photo | top-1 ref / Iris | matched boxes | mean IoU | max score diff\n");
        int agree = 0, matched = 0, total = 0;
        double iouSum = 0, maxScoreDiff = 0;
        for (var i = 0; i < Photos.Length; i++)
        {
            using var image = Repo.Decode(Photos[i], GeneralDetectionModel.Input.Width);
            var iris = await GeneralDetectionModel.DetectAsync(image, fixture.Engine, GeneralDetectionModel.MinScore, CancellationToken.None);
            var refs = reference[i].Where(d => d.Score >= GeneralDetectionModel.MinScore).ToList();
            var (refTop, irisTop) = (Top(reference[i]), Top(iris));
            agree += refTop == irisTop ? 1 : 0;
            int m = 0;
            double iou = 0;
            foreach (var r in refs)
            {
                total++;
                var best = iris.Where(c => c.Class == r.Class).Select(c => (Box: c, IoU: Boxes.IoU(c, r))).OrderByDescending(p => p.IoU).FirstOrDefault();
                if (best.IoU >= 0.5)
                {
                    m++;
                    iou += best.IoU;
                    maxScoreDiff = Math.Max(maxScoreDiff, Math.Abs(best.Box.Score - r.Score));
                }
            }

            matched += m;
            iouSum += iou;
            report.AppendLine(FormattableString.Invariant($"{Path.GetFileName(Photos[i])} | {CocoName(refTop)} / {CocoName(irisTop)} | {m}/{refs.Count} | {(m == 0 ? 0 : iou / m):0.000} | {maxScoreDiff:0.000}"));
        }

        var meanIoU = matched == 0 ? 0 : iouSum / matched;
        report.AppendLine(FormattableString.Invariant($"top-1 agreement {agree}/{Photos.Length}; boxes matched {matched}/{total}; mean IoU {meanIoU:0.000}; largest score difference {maxScoreDiff:0.000}"));
        output.WriteLine(report.ToString());

        // The goals: identical top-1 and box IoU ≥ 0.95 with the reference. Measured when written: 6/6,
        // 104/107 boxes matched, mean IoU 0.969, largest score difference 0.087 (metro-north, read at its own size,
        // is identical; the larger photos differ by the resampling: Iris decodes at a reduced JPEG scale, the
        // reference resizes the full image; both with a cubic kernel — Iris's triangle filter matched 102/107, IoU 0.962).
        Assert.True(agree == Photos.Length, report.ToString());
        Assert.True(total >= 100, report.ToString());
        Assert.True(matched >= total * 0.93, report.ToString());
        Assert.True(meanIoU >= 0.95, report.ToString());
        Assert.True(maxScoreDiff <= 0.12, report.ToString());
    }

    [Fact]
    public async Task Iris_finds_the_faces_the_tensorflow_js_blazeface_finds_with_the_same_boxes()
    {
        var reference = await RunAsync("blazeface-reference.mjs", Photos, e => e.GetProperty("faces").EnumerateArray().Select(d =>
        {
            var v = d.EnumerateArray().Select(x => x.GetSingle()).ToArray();
            return new Boxes.Candidate(v[0], v[1], v[2], v[3], v[4], 0);
        }).ToList());
        var report = new StringBuilder("photo | faces ref / Iris | matched | mean IoU | max score diff\n");
        int refFaces = 0, irisFaces = 0, matched = 0;
        double iouSum = 0, maxScoreDiff = 0;
        var clear = new List<(int Ref, int Iris, int Matched, double IoU)>();
        for (var i = 0; i < Photos.Length; i++)
        {
            using var image = Repo.Decode(Photos[i], FaceDetectionModel.Input.Width);
            var iris = await FaceDetectionModel.DetectAsync(image, fixture.Engine, CancellationToken.None);
            int m = 0;
            double iou = 0;
            foreach (var r in reference[i])
            {
                var best = iris.Select(c => (Box: c, IoU: Boxes.IoU(c, r))).OrderByDescending(p => p.IoU).FirstOrDefault();
                if (best.IoU >= 0.5)
                {
                    m++;
                    iou += best.IoU;
                    maxScoreDiff = Math.Max(maxScoreDiff, Math.Abs(best.Box.Score - r.Score));
                }
            }

            if (Photos[i] == Repo.FaceDetect || Photos[i] == Repo.FaceId)
            {
                clear.Add((reference[i].Count, iris.Count, m, m == 0 ? 0 : iou / m));
            }

            refFaces += reference[i].Count;
            irisFaces += iris.Count;
            matched += m;
            iouSum += iou;
            report.AppendLine(FormattableString.Invariant($"{Path.GetFileName(Photos[i])} | {reference[i].Count} / {iris.Count} | {m} | {(m == 0 ? 0 : iou / m):0.000} | {maxScoreDiff:0.000}"));
        }

        var meanIoU = matched == 0 ? 0 : iouSum / matched;
        report.AppendLine(FormattableString.Invariant($"faces: reference {refFaces}, Iris {irisFaces}, matched {matched}; mean IoU {meanIoU:0.000}; largest score difference {maxScoreDiff:0.000}"));
        output.WriteLine(report.ToString());

        // Faces a person sees at once (the five of the group screenshot, the one of the face-id screenshot): the same
        // faces and the same boxes. Measured when written: 5/5 and 1/1, IoU 0.944 and 0.991. Tiny faces (about 10 px in
        // the network's 256 px input: the ~100-face grid of screenshot-facematch, the contact sheet of samples.jpg) score
        // close to the 0.5 threshold, so the resampling filter decides which of them pass: with a triangle (tent) filter
        // Iris found 48 faces in all where the reference finds 58 (sharp's 'linear' kernel drops the reference itself to
        // 37 on facematch); with the Catmull-Rom cubic of the reference's sharp 'cubic' it finds 59. Measured when
        // written: reference 58, Iris 59, matched 48, mean IoU 0.817, largest score difference 0.113.
        Assert.All(clear, c => Assert.True(c.Ref == c.Iris && c.Matched == c.Ref && c.IoU >= 0.93, report.ToString()));
        Assert.True(refFaces >= 55, report.ToString());
        Assert.True(Math.Abs(irisFaces - refFaces) <= Math.Max(3, refFaces * 0.08), report.ToString());
        Assert.True(matched >= refFaces * 0.78, report.ToString());
        Assert.True(meanIoU >= 0.80, report.ToString());
        Assert.True(maxScoreDiff <= 0.13, report.ToString());
    }

    private static string CocoName(int c) => c < 0 ? "none" : GeneralDetectionModel.Classes[c].Name;

    /// <summary>The class of the highest-scoring detection (what recognition reports first), −1 when none.</summary>
    private static int Top(IEnumerable<Boxes.Candidate> detections) => detections.OrderByDescending(d => d.Score).Select(d => d.Class).DefaultIfEmpty(-1).First();

    /// <summary>Runs Reference/centernet-reference.mjs in Node on all photos at once; each photo's detections in image fractions.</summary>
    internal static Task<List<Boxes.Candidate>[]> RunReferenceAsync(IReadOnlyList<string> paths) =>
        RunAsync("centernet-reference.mjs", paths, e => e.GetProperty("detections").EnumerateArray().Select(d =>
        {
            var v = d.EnumerateArray().Select(x => x.GetSingle()).ToArray();
            return new Boxes.Candidate(v[0], v[1], v[2], v[3], v[4], (int)v[5]);
        }).ToList());

    /// <summary>Runs a reference script of Reference/ in Node on all photos at once and reads each photo's result.</summary>
    private static async Task<T[]> RunAsync<T>(string script, IReadOnlyList<string> paths, Func<JsonElement, T> read)
    {
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Repo.Root };
        start.ArgumentList.Add(Path.Combine(Repo.Root, "tests/Iris.Inference.Tests/Reference", script));
        foreach (var p in paths)
        {
            start.ArgumentList.Add(p);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start node");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"the reference {script} failed ({process.ExitCode}): {await stderr}");
        }

        using var json = JsonDocument.Parse(await stdout);
        var results = json.RootElement.EnumerateArray().Select(read).ToArray();
        Assert.Equal(paths.Count, results.Length);
        return results;
    }
}
