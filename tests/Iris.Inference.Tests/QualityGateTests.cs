using Clarifai.Api;
using Iris.Imaging;
using Iris.Inference.Zoo;
using SkiaSharp;

namespace Iris.Inference.Tests;

/// <summary>
/// Every built-in model on real photographs from the pinned packages, with floors a person would agree with. The
/// values are what the networks give (measured when the gates were written), the floors sit well below them.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class QualityGateTests(EngineFixture fixture)
{
    private readonly ModelZoo _zoo = new();

    [Fact]
    public async Task Recognition_of_the_metro_north_photo_names_a_train_and_people()
    {
        // With the network's own letterbox the train (filling the frame) reads smaller than when stretched: measured
        // person 0.497, clock 0.259, bench 0.228, train 0.221 (stretched: person 0.531, train 0.263, clock 0.181).
        var data = await PredictAsync(GeneralRecognitionModel.Id, Repo.MetroNorth);
        var top = data.Concepts.Take(4).Select(c => c.Name).ToArray();
        var shown = string.Join(", ", data.Concepts.Take(6).Select(c => $"{c.Name} {c.Value:0.000}"));
        Assert.True(top.Contains("train"), shown);
        Assert.True(data.Concepts[0].Name == "person", shown);
        var train = data.Concepts.Single(c => c.Name == "train");
        Assert.Equal("ai_HLmqFqBf", train.Id);
        Assert.True(train.Value >= 0.2f, $"train scored {train.Value}");
        Assert.Equal(80, data.Concepts.Count);
        Assert.True(data.Concepts.Zip(data.Concepts.Skip(1)).All(p => p.First.Value >= p.Second.Value));
    }

    [Fact]
    public async Task Detection_of_the_metro_north_photo_boxes_the_train_and_people_on_the_platform()
    {
        var data = await PredictAsync(GeneralDetectionModel.Id, Repo.MetroNorth);
        var trains = data.Regions.Where(r => r.Data.Concepts[0].Name == "train").ToArray();
        var train = Assert.Single(trains);
        var box = train.RegionInfo.BoundingBox;
        // The train fills most of the frame: a big box.
        Assert.True((box.BottomRow - box.TopRow) * (box.RightCol - box.LeftCol) >= 0.2f, $"train box {box}");
        Assert.True(data.Regions.Count(r => r.Data.Concepts[0].Name == "person") >= 2);
        Assert.All(data.Regions, r =>
        {
            var b = r.RegionInfo.BoundingBox;
            Assert.InRange(b.TopRow, 0f, b.BottomRow);
            Assert.InRange(b.LeftCol, 0f, b.RightCol);
            Assert.InRange(b.BottomRow, 0f, 1f);
            Assert.InRange(b.RightCol, 0f, 1f);
            Assert.True(r.Value >= GeneralDetectionModel.MinScore);
        });
    }

    [Fact]
    public async Task Face_detection_finds_the_five_faces_of_the_screenshot_and_none_on_the_train()
    {
        var faces = await PredictAsync(FaceDetectionModel.Id, Repo.FaceDetect);
        Assert.Equal(5, faces.Regions.Count);
        // The TensorFlow.js BlazeFace scores them 0.90, 0.90, 0.85, 0.80, 0.78, and Iris, decoding and resampling as
        // its sharp does, within 0.01 of each (DetectionReferenceTests).
        Assert.All(faces.Regions, r => Assert.True(r.Value >= 0.75f, $"a face scored {r.Value}"));
        // All five faces sit in one row across the middle of the screenshot.
        Assert.All(faces.Regions, r => Assert.InRange((r.RegionInfo.BoundingBox.TopRow + r.RegionInfo.BoundingBox.BottomRow) / 2, 0.5f, 0.7f));
        var single = await PredictAsync(FaceDetectionModel.Id, Repo.FaceId);
        Assert.Single(single.Regions);
        var train = await PredictAsync(FaceDetectionModel.Id, Repo.MetroNorth);
        Assert.DoesNotContain(train.Regions, r => r.Value >= 0.8f);
    }

    [Fact]
    public async Task Face_attributes_give_age_gender_and_emotion_concepts_with_vocab_ids()
    {
        var data = await PredictAsync(FaceAttributesModel.Id, Repo.FaceDetect);
        Assert.Equal(5, data.Regions.Count);
        foreach (var region in data.Regions)
        {
            var vocabs = region.Data.Concepts.GroupBy(c => c.VocabId).ToDictionary(g => g.Key, g => g.Sum(c => c.Value));
            Assert.Equal(["age_appearance", "emotion", "gender_appearance"], vocabs.Keys.Order(StringComparer.Ordinal).ToArray());
            // Each vocabulary is a distribution.
            Assert.All(vocabs.Values, sum => Assert.InRange(sum, 0.97f, 1.03f));
        }

        // Four of the five people smile broadly; the age model puts all of them between 10 and 49.
        Assert.True(data.Regions.Count(r => Top(r, "emotion") == "happy") >= 3);
        Assert.All(data.Regions, r => Assert.Contains(Top(r, "age_appearance"), new[] { "10-19", "20-29", "30-39", "40-49" }));
    }

    [Fact]
    public async Task Nsfw_recognition_calls_the_train_photo_neutral()
    {
        var data = await PredictAsync(NsfwModel.Id, Repo.MetroNorth);
        Assert.Equal("neutral", data.Concepts[0].Name);
        Assert.True(data.Concepts[0].Value >= 0.9f);
        Assert.InRange(data.Concepts.Sum(c => c.Value), 0.99f, 1.01f);
    }

    [Fact]
    public async Task Embeddings_put_a_resized_and_a_cropped_copy_closest_to_the_original()
    {
        using var original = Repo.Decode(Repo.MetroNorth);
        using var resized = Transform(original, scale: 0.5f, crop: 0f);
        using var cropped = Transform(original, scale: 1f, crop: 0.06f);
        var o = await EmbedAsync(original);
        var r = await EmbedAsync(resized);
        var c = await EmbedAsync(cropped);
        Assert.Equal(GeneralEmbeddingModel.Dimensions, o.Length);
        Assert.InRange(Math.Sqrt(o.Sum(v => v * v)), 0.999, 1.001);
        var others = new List<float[]>();
        foreach (var path in new[] { Repo.Samples, Repo.FaceDetect, Repo.FaceId })
        {
            using var other = Repo.Decode(path);
            others.Add(await EmbedAsync(other));
        }

        var nearestOther = others.Max(x => Cosine(o, x));
        var report = $"resized {Cosine(o, r)}, cropped {Cosine(o, c)}, nearest other photo {nearestOther}";
        Assert.True(Cosine(o, r) >= 0.8f, report);
        Assert.True(Cosine(o, c) >= 0.7f, report);
        Assert.True(Math.Min(Cosine(o, r), Cosine(o, c)) > nearestOther + 0.1f, report);
    }

    [Fact]
    public async Task Person_segmentation_masks_the_people_of_the_screenshot()
    {
        // Decoded at 3/8 scale (the network reads 256 × 256), the mask still has the photo's full size.
        using var image = Repo.Decode(Repo.FaceDetect, PersonSegmentationModel.Input.Width);
        Assert.Equal(300, image.Width);
        var data = await _zoo.Find(PersonSegmentationModel.Id)!.PredictAsync(image, fixture.Engine, CancellationToken.None);
        var region = Assert.Single(data.Regions);
        Assert.Equal("person", region.Data.Concepts[0].Name);
        Assert.True(region.Value >= 0.1f, $"person covers {region.Value}");
        using var mask = SKBitmap.Decode(region.RegionInfo.Mask.Image.Base64.ToByteArray());
        Assert.Equal(800, mask.Width);
        Assert.Equal(718, mask.Height);
        // The faces (row 0.5–0.65 of the screenshot) are person pixels; the top-left corner is not.
        Assert.True(mask.GetPixel((int)(0.30 * mask.Width), (int)(0.58 * mask.Height)).Red > 128);
    }

    [Fact]
    public async Task Subject_segmentation_masks_the_avatar_and_leaves_the_floor_and_the_webcam_inset_out()
    {
        var data = await PredictAsync(SubjectSegmentationModel.Id, Repo.Vrm);
        var region = Assert.Single(data.Regions);
        Assert.Equal("foreground", region.Data.Concepts[0].Name);
        Assert.True(region.Data.Concepts[0].Value >= 0.9f, $"peak {region.Data.Concepts[0].Value}");
        // The avatar covers about a tenth of the screenshot (0.10 measured).
        Assert.InRange(region.Value, 0.05f, 0.2f);
        using var mask = SKBitmap.Decode(region.RegionInfo.Mask.Image.Base64.ToByteArray());
        Assert.Equal((800, 653), (mask.Width, mask.Height));
        Assert.Equal((800, 653), ((int)region.RegionInfo.Mask.Image.ImageInfo.Width, (int)region.RegionInfo.Mask.Image.ImageInfo.Height));
        byte At(double x, double y) => mask.GetPixel((int)(x * mask.Width), (int)(y * mask.Height)).Red;

        // The avatar stands in the left fifth: head, chest, hips and legs are subject pixels.
        Assert.True(At(0.22, 0.15) > 200, $"head {At(0.22, 0.15)}");
        Assert.True(At(0.19, 0.30) > 200, $"chest {At(0.19, 0.30)}");
        Assert.True(At(0.19, 0.50) > 200, $"hips {At(0.19, 0.50)}");
        Assert.True(At(0.18, 0.75) > 200, $"legs {At(0.18, 0.75)}");

        // The black background corners, the floor grid and the webcam inset (top right) are not.
        Assert.True(At(0.02, 0.02) < 32, $"top-left corner {At(0.02, 0.02)}");
        Assert.True(At(0.5, 0.3) < 32, $"background {At(0.5, 0.3)}");
        Assert.True(At(0.8, 0.85) < 32, $"floor {At(0.8, 0.85)}");
        Assert.True(At(0.8, 0.25) < 64, $"webcam inset {At(0.8, 0.25)}");
    }

    [Fact]
    public async Task Ocr_reads_back_rendered_text_line_by_line()
    {
        using var bitmap = new SKBitmap(900, 300);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.White);
            using var typeface = Typeface();
            using var font = new SKFont(typeface, 48);
            using var paint = new SKPaint { Color = SKColors.Black, IsAntialias = true };
            canvas.DrawText("Iris reads this line", 40, 100, SKTextAlign.Left, font, paint);
            canvas.DrawText("Second line 2026", 40, 220, SKTextAlign.Left, font, paint);
        }

        Assert.True(bitmap.Pixels.Count(p => p.Red < 128) > 2000, "the text did not render");
        using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        using var image = ImageDecoder.TryDecode(png.AsSpan(), out _)!;
        var data = await _zoo.Find(OcrModel.Id)!.PredictAsync(image, fixture.Engine, CancellationToken.None);
        var texts = data.Regions.Select(r => r.Data.Text.Raw).ToArray();
        Assert.True(texts.Length == 2, string.Join(" | ", texts));
        Assert.Equal("Iris reads this line", texts[0]);
        Assert.Equal("Second line 2026", texts[1]);
        Assert.True(data.Regions[0].RegionInfo.BoundingBox.BottomRow < data.Regions[1].RegionInfo.BoundingBox.TopRow + 0.05f);
        Assert.All(data.Regions, r => Assert.True(r.Value >= 0.8f, $"{r.Data.Text.Raw}: {r.Value}"));
    }

    /// <summary>
    /// A font to render with: the Lato that @vladmandic/human ships (WOFF2), else DejaVu Sans from the system. The
    /// native SkiaSharp assets have no fontconfig, so the default typeface draws nothing.
    /// </summary>
    private static SKTypeface Typeface()
    {
        foreach (var path in new[] { Path.Combine(Repo.NodeModules, "@vladmandic/human/assets/lato-light.woff2"), "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf" })
        {
            if (File.Exists(path) && SKTypeface.FromFile(path) is { } typeface)
            {
                return typeface;
            }
        }

        throw new InvalidOperationException("no font to render the OCR test text with");
    }

    private static string Top(Region region, string vocab) => region.Data.Concepts.Where(c => c.VocabId == vocab).MaxBy(c => c.Value)!.Name;

    /// <summary>As the predictor does it: decoded at the model's reduced scale where it allows one.</summary>
    private async Task<Data> PredictAsync(string modelId, string photo)
    {
        var model = _zoo.Find(modelId)!;
        using var image = Repo.Decode(photo, model.DecodeMinSide, model.DecodeFitSide);
        return await model.PredictAsync(image, fixture.Engine, CancellationToken.None);
    }

    private async Task<float[]> EmbedAsync(DecodedImage image) =>
        (await _zoo.Find(GeneralEmbeddingModel.Id)!.PredictAsync(image, fixture.Engine, CancellationToken.None)).Embeddings[0].Vector.ToArray();

    private static float Cosine(float[] a, float[] b) => a.Zip(b).Sum(p => p.First * p.Second);

    /// <summary>A scaled copy with <paramref name="crop"/> of each side cut away, re-encoded as JPEG and decoded again.</summary>
    private static DecodedImage Transform(DecodedImage source, float scale, float crop)
    {
        var src = new SKRect(source.Width * crop, source.Height * crop, source.Width * (1 - crop), source.Height * (1 - crop));
        var w = (int)(src.Width * scale);
        var h = (int)(src.Height * scale);
        using var target = new SKBitmap(w, h);
        using (var canvas = new SKCanvas(target))
        {
            using var img = SKImage.FromBitmap(source.Bitmap);
            canvas.DrawImage(img, src, new SKRect(0, 0, w, h), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        }

        using var jpeg = target.Encode(SKEncodedImageFormat.Jpeg, 85);
        return ImageDecoder.TryDecode(jpeg.AsSpan(), out _)!;
    }
}
