using Clarifai.Api;
using Clarifai.Api.Status;
using Google.Protobuf.WellKnownTypes;
using Iris.Core.Errors;
using Iris.Inference.Zoo;

namespace Iris.Server.Models;

/// <summary>How the built-in models and their types appear on the wire.</summary>
internal static class ModelViews
{
    public const string MainUser = "clarifai";
    public const string MainApp = "main";
    public const int DefaultMaxConcepts = Inference.Predict.ConceptFilter.DefaultMaxConcepts;

    private static readonly Visibility Public = new() { Gettable = Visibility.Types.Gettable.Public };

    /// <summary>The model as GetModel and ListModels return it; <paramref name="withConcepts"/> adds the concept list (GetModelOutputInfo).</summary>
    public static Model Full(ModelDescriptor d, bool withConcepts)
    {
        var model = Trimmed(d);
        model.Description = d.Description;
        model.Notes = d.Notes;
        model.Metadata = Metadata(d);
        model.LicenseType = LicenseType.OpenSource;
        model.Source = Model.Types.Source.Hosted;
        model.Creator = MainUser;
        model.VersionCount = 1;
        model.ModelVersion = Version(d, withConcepts);
        return model;
    }

    /// <summary>The model inside predict outputs: ids, name, dates, type, visibility and a short version (seed 000/002).</summary>
#pragma warning disable CS0612 // Model.name is deprecated in the proto but Clarifai still writes it (seed 000).
    public static Model Trimmed(ModelDescriptor d) => new()
    {
        Id = d.Id,
        Name = d.Name,
        CreatedAt = Timestamp.FromDateTimeOffset(d.CreatedAt),
        ModifiedAt = Timestamp.FromDateTimeOffset(d.CreatedAt),
        AppId = MainApp,
        UserId = MainUser,
        ModelTypeId = d.TypeId,
        Visibility = Public.Clone(),
        WorkflowRecommended = false,
        ModelVersion = new ModelVersion
        {
            Id = d.VersionId,
            CreatedAt = Timestamp.FromDateTimeOffset(d.CreatedAt),
            Status = Trained(),
            Visibility = Public.Clone(),
            AppId = MainApp,
            UserId = MainUser,
            Metadata = Metadata(d),
        },
    };
#pragma warning restore CS0612

    public static ModelVersion Version(ModelDescriptor d, bool withConcepts)
    {
        var created = Timestamp.FromDateTimeOffset(d.CreatedAt);
        var version = new ModelVersion
        {
            Id = d.VersionId,
            CreatedAt = created,
            ModifiedAt = created,
            CompletedAt = created,
            Status = Trained(),
            ActiveConceptCount = (uint)d.Concepts.Count,
            Description = d.Description,
            Visibility = Public.Clone(),
            AppId = MainApp,
            UserId = MainUser,
            Metadata = Metadata(d),
            License = d.License,
            OutputInfo = new OutputInfo
            {
                OutputConfig = new OutputConfig { MaxConcepts = d.Concepts.Count > 0 ? (uint)DefaultMaxConcepts : 0u },
            },
        };
        if (withConcepts)
        {
            version.OutputInfo.Data = new Data();
            version.OutputInfo.Data.Concepts.AddRange(d.Concepts.Select(ConceptOf));
        }
        else if (d.Concepts.Count > 0)
        {
            version.OutputInfo.Message = $"Show output_info with: GET /models/{d.Id}/output_info";
        }

        return version;
    }

    public static Concept ConceptOf(ConceptDef c)
    {
        var concept = new Concept
        {
            Id = c.Id,
            Name = c.Name,
            Value = 1f,
            CreatedAt = Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)),
            Language = "en",
            AppId = MainApp,
            UserId = MainUser,
            Visibility = Public.Clone(),
        };
        if (c.VocabId is not null)
        {
            concept.VocabId = c.VocabId;
        }

        return concept;
    }

    public static Status Trained() => new() { Code = StatusCode.ModelTrained, Description = StatusCatalog.Describe(StatusCode.ModelTrained) };

    private static Struct Metadata(ModelDescriptor d) => new()
    {
        Fields =
        {
            ["license"] = Value.ForString(d.License),
            ["source_package"] = Value.ForString(d.SourcePackage),
            ["served_by"] = Value.ForString("iris"),
        },
    };
}

/// <summary>The model types of the built-in models, with what the official SDK reads before it predicts.</summary>
internal static class ModelTypes
{
    public static IReadOnlyList<ModelType> All { get; } =
    [
        Type("visual-classifier", "Visual Classifier", "Classify images into a set of concepts.", ["concepts"], withConcepts: true),
        Type("visual-detector", "Visual Detector", "Detect bounding-box regions in images and classify each into concepts.", ["regions[...].region_info.bounding_box", "regions[...].data.concepts"], withConcepts: true),
        Type("visual-embedder", "Visual Embedder", "Embed images into a vector space for similarity search.", ["embeddings"], withConcepts: false),
        Type("visual-segmenter", "Visual Segmenter", "Segment images into masks, each classified into concepts.", ["regions[...].region_info.mask", "regions[...].data.concepts"], withConcepts: true),
    ];

    public static ModelType? Find(string id) => All.FirstOrDefault(t => string.Equals(t.Id, id, StringComparison.Ordinal));

    private static ModelType Type(string id, string title, string description, string[] outputs, bool withConcepts)
    {
        var type = new ModelType
        {
            Id = id,
            Title = title,
            Description = description,
            InputFields = { "image" },
            OutputFields = { outputs },
            Trainable = true,
            Creatable = true,
            EvaluationType = withConcepts ? (id == "visual-classifier" ? EvaluationType.Classification : id == "visual-detector" ? EvaluationType.Detection : EvaluationType.Segmentation) : EvaluationType.Undefined,
        };
        if (withConcepts)
        {
            type.ModelTypeFields.Add(new ModelTypeField
            {
                Path = "output_info.data",
                FieldType = ModelTypeField.Types.ModelTypeFieldType.ArrayOfConcepts,
                Description = "The concepts the model predicts.",
            });
            type.ModelTypeFields.Add(new ModelTypeField
            {
                Path = "output_info.output_config.max_concepts",
                FieldType = ModelTypeField.Types.ModelTypeFieldType.Number,
                DefaultValue = Value.ForNumber(ModelViews.DefaultMaxConcepts),
                Description = "Largest number of concepts returned per prediction.",
            });
            type.ModelTypeFields.Add(new ModelTypeField
            {
                Path = "output_info.output_config.min_value",
                FieldType = ModelTypeField.Types.ModelTypeFieldType.Number,
                DefaultValue = Value.ForNumber(0),
                Description = "Only concepts (and regions) scoring at least this value are returned.",
            });
            type.ModelTypeFields.Add(new ModelTypeField
            {
                Path = "output_info.output_config.select_concepts",
                FieldType = ModelTypeField.Types.ModelTypeFieldType.ArrayOfConcepts,
                Description = "Return only these concepts (by id or name).",
            });
        }

        return type;
    }
}
