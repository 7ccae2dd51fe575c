using Clarifai.Api;
using Clarifai.Api.Status;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Storage.Inputs;
using Status = Clarifai.Api.Status.Status;

namespace Iris.Server.Inputs;

/// <summary>
/// The one place where stored rows become Clarifai messages and back. An input's data is its media (stored with the
/// input) plus its input-level annotation (concepts, metadata, geo, regions), which is the single source of truth for
/// those fields: patching an input patches that annotation.
/// </summary>
internal sealed partial class InputMapper(HostedUrls hosted)
{
    public const string CropRefused = "image.crop is no longer supported (since 2019): crop the image on the client side and send the cropped bytes as base64.";

    public static string NewId() => Guid.NewGuid().ToString("N");

    public static Timestamp Time(DateTimeOffset at) => Timestamp.FromDateTimeOffset(at);

    public static Status StatusOf(StatusCode code, string details = "") => new()
    {
        Code = code,
        Description = StatusCatalog.Describe(code),
        Details = details,
    };

    /// <summary>The input as GetInput returns it.</summary>
    public Input ToInput(AppRef app, InputRow row, AnnotationRow? inputLevel)
    {
        var data = Data.Parser.ParseFrom(row.Media);
        if (inputLevel is not null)
        {
            var annotation = Data.Parser.ParseFrom(inputLevel.Data);
            data.Concepts.Add(annotation.Concepts);
            data.Regions.Add(annotation.Regions);
            data.Metadata = annotation.Metadata;
            data.Geo = annotation.Geo;
        }

        if (row.Kind == InputKinds.Image)
        {
            data.Image ??= new Image();
            if (row.BlobKey is not null)
            {
                data.Image.Hosted = hosted.For(app, row.BlobKey);
                data.Image.ImageInfo = new ImageInfo
                {
                    Width = row.Width ?? 0,
                    Height = row.Height ?? 0,
                    Format = row.Format ?? string.Empty,
                    ColorMode = row.ColorMode ?? string.Empty,
                };
            }
        }

        return new Input
        {
            Id = row.Id,
            Data = data,
            CreatedAt = Time(row.CreatedAt),
            ModifiedAt = Time(row.ModifiedAt),
            Status = StatusOf((StatusCode)row.StatusCode, row.StatusDetails),
        };
    }

    /// <summary>
    /// The annotation as the annotation RPCs return it. A user annotation carries its data, <c>user_id</c> (its author) and
    /// <c>trusted</c>. A model annotation (<see cref="AnnotationRow.Model"/>, see <see cref="ModelAnnotations"/>) names its
    /// model in <c>worker.model</c> and the deprecated <c>model_version_id</c> / <c>embed_model_version_id</c>; it has no
    /// user (<c>user_id</c> empty) and is not trusted; its data (the embedding, or the predicted concepts kept) is there only
    /// when the row was read with its output. <paramref name="names"/> gives the model's id and concept names.
    /// </summary>
    public static Annotation ToAnnotation(AppRef app, AnnotationRow row, ModelNames? names = null)
    {
        var annotation = new Annotation
        {
            Id = row.Id,
            InputId = row.InputId,
            Status = StatusOf((StatusCode)row.StatusCode),
            CreatedAt = Time(row.CreatedAt),
            ModifiedAt = Time(row.ModifiedAt),
            InputLevel = row.InputLevel,
        };
        if (row.Model is not { } model)
        {
            annotation.Data = Data.Parser.ParseFrom(row.Data);
#pragma warning disable CS0612 // user_id and trusted are deprecated but still read by clients (ListAnnotations filters by user_ids); every stored annotation is a user (trusted) annotation.
            annotation.UserId = row.Author;
            annotation.Trusted = true;
#pragma warning restore CS0612
            return annotation;
        }

        var (modelId, conceptNames) = names?.Of(model.ModelVersionId) ?? (string.Empty, new Dictionary<string, string>());
        annotation.Worker = new Worker { Model = new Model { Id = modelId.Length > 0 ? modelId : model.ModelId, ModelVersion = new ModelVersion { Id = model.ModelVersionId } } };
#pragma warning disable CS0612 // deprecated, still set as Clarifai sets them on model annotations (worker.model.model_version.id; the embedder's version of the run).
        annotation.ModelVersionId = model.ModelVersionId;
        annotation.EmbedModelVersionId = model.EmbedModelVersionId;
#pragma warning restore CS0612
        if (model.Vector is { } vector)
        {
            var embedding = new Embedding { NumDimensions = (uint)vector.Length };
            embedding.Vector.Add(vector);
            annotation.Data = new Data { Embeddings = { embedding } };
        }
        else if (model.Concepts is { } concepts)
        {
            // Predicted concepts are the built-in model's, owned by clarifai/main as PostModelOutputs writes them.
            annotation.Data = new Data();
            annotation.Data.Concepts.Add(concepts.Select(c => new Concept
            {
                Id = c.ConceptId,
                Name = conceptNames.GetValueOrDefault(c.ConceptId, c.ConceptId),
                Value = c.Value,
                AppId = "main",
                UserId = "clarifai",
            }));
        }

        return annotation;
    }

    /// <summary>The annotation part of data (what an input-level annotation holds), with concepts normalised.</summary>
    public static Data AnnotationPart(AppRef app, Data data)
    {
        var part = new Data { Metadata = data.Metadata, Geo = data.Geo };
        foreach (var concept in data.Concepts)
        {
            part.Concepts.Add(NormaliseConcept(app, concept));
        }

        foreach (var region in data.Regions)
        {
            part.Regions.Add(NormaliseRegion(app, region));
        }

        return part;
    }

    public static Concept NormaliseConcept(AppRef app, Concept concept)
    {
        if (string.IsNullOrEmpty(concept.Id))
        {
            throw new IrisException(StatusCode.InputInvalidRequest, "Every concept needs an id.");
        }

        var c = concept.Clone();
        c.Name = string.IsNullOrEmpty(c.Name) ? c.Id : c.Name;
        c.AppId = app.AppId;
        return c;
    }

    public static Region NormaliseRegion(AppRef app, Region region)
    {
        var r = region.Clone();
        if (string.IsNullOrEmpty(r.Id))
        {
            r.Id = NewId();
        }

        if (r.Data is not null)
        {
            var concepts = r.Data.Concepts.Select(c => NormaliseConcept(app, c)).ToList();
            r.Data.Concepts.Clear();
            r.Data.Concepts.Add(concepts);
        }

        ValidateRegion(r);
        return r;
    }

    /// <summary>Bounding boxes and polygon points are normalised image coordinates in [0, 1] (CLARIFAI_FACTS.md 4.6).</summary>
    public static void ValidateRegion(Region region)
    {
        var info = region.RegionInfo;
        if (info is null)
        {
            return;
        }

        if (info.BoundingBox is { } box)
        {
            if (!InUnit(box.TopRow) || !InUnit(box.LeftCol) || !InUnit(box.BottomRow) || !InUnit(box.RightCol) || box.TopRow >= box.BottomRow || box.LeftCol >= box.RightCol)
            {
                throw new IrisException(StatusCode.AnnotationInvalidArgument,
                    $"Region {region.Id}: a bounding box needs 0 ≤ top_row < bottom_row ≤ 1 and 0 ≤ left_col < right_col ≤ 1 (normalised coordinates); got top {box.TopRow}, left {box.LeftCol}, bottom {box.BottomRow}, right {box.RightCol}.");
            }
        }

        if (info.Polygon is { } polygon)
        {
            if (polygon.Points.Count < 3 || polygon.Points.Any(p => !InUnit(p.Row) || !InUnit(p.Col)))
            {
                throw new IrisException(StatusCode.AnnotationInvalidArgument,
                    $"Region {region.Id}: a polygon needs at least 3 points with row and col in [0, 1]; got {polygon.Points.Count} points.");
            }
        }
    }

    private static bool InUnit(float v) => v is >= 0f and <= 1f;

    /// <summary>Concepts an annotation mentions, for concept creation and counts (regions' concepts included).</summary>
    public static IReadOnlyList<ConceptMention> Mentions(Data data)
    {
        var mentions = new Dictionary<string, ConceptMention>(StringComparer.Ordinal);
        foreach (var c in data.Concepts.Concat(data.Regions.Where(r => r.Data is not null).SelectMany(r => r.Data.Concepts)))
        {
            mentions[c.Id] = new ConceptMention(c.Id, string.IsNullOrEmpty(c.Name) ? c.Id : c.Name, c.Value);
        }

        return [.. mentions.Values];
    }

    public static NewAnnotation NewAnnotationOf(AppRef app, string id, string inputId, Data data, bool inputLevel) =>
        new(id, inputId, data.ToByteArray(), inputLevel, app.UserId, Mentions(data), QueryableOf(data));

    /// <summary>The columns search filters on: the metadata as JSON and the geo point (degrees), when the data has them.</summary>
    public static QueryableFields QueryableOf(Data data) => new(
        data.Metadata is null ? null : JsonFormatter.Default.Format(data.Metadata),
        data.Geo?.GeoPoint?.Longitude,
        data.Geo?.GeoPoint?.Latitude);
}

/// <summary>What an input holds.</summary>
internal static class InputKinds
{
    public const string Image = "image";
    public const string Text = "text";
}
