using System.Text;
using Xunit.Abstractions;

namespace Iris.Inference.Tests;

/// <summary>
/// NSFW recognition and the general embedding against nsfwjs itself: the TensorFlow.js MobileNet v2 Iris converts, run
/// by @tensorflow/tfjs in Node through nsfwjs' own classify / infer (Reference/nsfwjs-reference.mjs), on the photos the
/// detection gates use. Iris' converted network and its resize must give the same top class, close probabilities and
/// nearly the same embedding direction.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class NsfwReferenceTests(EngineFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Iris_agrees_with_nsfwjs_on_the_class_and_the_embedding()
    {
        var photos = DetectionReferenceTests.Photos;
        var reference = await DetectionReferenceTests.RunAsync(NsfwReference.Script, photos, e => e.Clone());
        var report = new StringBuilder("photo | top-1 nsfwjs / Iris | largest probability difference | embedding cosine\n");
        var results = new List<NsfwReference.Comparison>();
        for (var i = 0; i < photos.Length; i++)
        {
            var c = await NsfwReference.CompareAsync(fixture.Engine, photos[i], reference[i]);
            results.Add(c);
            report.AppendLine(FormattableString.Invariant($"{c.Photo} | {c.ReferenceTop} / {c.IrisTop} | {c.MaxDifference:0.000} | {c.Cosine:0.0000}"));
        }

        var agree = results.Count(r => r.ReferenceTop == r.IrisTop);
        var maxDiff = results.Max(r => r.MaxDifference);
        var minCosine = results.Min(r => r.Cosine);
        report.AppendLine(FormattableString.Invariant($"top-1 agreement {agree}/{photos.Length}; largest probability difference {maxDiff:0.000}; lowest cosine {minCosine:0.0000}, mean {results.Average(r => r.Cosine):0.0000}"));
        output.WriteLine(report.ToString());

        // Iris decodes at full size and resizes as tf.image.resizeBilinear(alignCorners: true) does, as nsfwjs does.
        // Measured: 6/6, largest probability difference 0.000, cosine 1.0000 on every photo. Before (a JPEG decode reduced
        // to a 224 px short side, an antialiased triangle resize): 3/6, 0.892, lowest cosine 0.567.
        Assert.True(agree == photos.Length, report.ToString());
        Assert.True(maxDiff <= 0.01, report.ToString());
        Assert.True(minCosine >= 0.999, report.ToString());
    }
}
