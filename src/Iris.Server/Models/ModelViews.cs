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
        if (withConcepts)
        {
#pragma warning disable CS0612 // Model.output_info is deprecated: older clients (the legacy JS client) still read concepts there.
            model.OutputInfo = model.ModelVersion.OutputInfo.Clone();
#pragma warning restore CS0612
        }

        return model;
    }

    /// <summary>The model inside predict outputs: ids, name, dates, type, visibility and a short version (seed 000/002).</summary>
#pragma warning disable CS0612 // Model.name is deprecated in the proto but Clarifai still writes it (seed 000).
    public static Model Trimmed(ModelDescriptor d)
    {
        // A user's trained version belongs to its app and is private; the built-ins are clarifai/main's and public.
        var (appId, userId) = d.Owner is { } owner ? (owner.AppId, owner.UserId) : (MainApp, MainUser);
        var visibility = d.Owner is null ? Public.Clone() : new Visibility { Gettable = Visibility.Types.Gettable.Private };
        var model = new Model
        {
            Id = d.Id,
            Name = d.Name,
            CreatedAt = Timestamp.FromDateTimeOffset(d.CreatedAt),
            ModifiedAt = Timestamp.FromDateTimeOffset(d.CreatedAt),
            AppId = appId,
            UserId = userId,
            ModelTypeId = d.TypeId,
            Visibility = visibility,
            WorkflowRecommended = false,
            ModelVersion = new ModelVersion
            {
                Id = d.VersionId,
                CreatedAt = Timestamp.FromDateTimeOffset(d.CreatedAt),
                Status = Trained(),
                Visibility = visibility.Clone(),
                AppId = appId,
                UserId = userId,
            },
        };
        if (d.Owner is null)
        {
            model.ModelVersion.Metadata = Metadata(d);
        }

        return model;
    }
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
        EmbeddingClassifier(),
        Legacy("detect", "Detector", "Detect bounding-box regions (the face-detection type of 2020, now visual-detector).", ["regions[...].region_info.bounding_box"]),
        Legacy("detect-concept", "Region Classifier", "Detect regions and classify each (the face identity / demographics types of 2020).", ["regions[...].region_info.bounding_box", "regions[...].data.concepts"]),
        Legacy("detect-embed", "Region Embedder", "Detect regions and embed each (the face embedding type of 2020).", ["regions[...].region_info.bounding_box", "regions[...].data.embeddings"]),
    ];

    /// <summary>The type Iris trains: a classifier head over the app's base-workflow embeddings.</summary>
    public const string EmbeddingClassifierId = "embedding-classifier";

    /// <summary>Type ids renamed by Clarifai (seed 002, 2020-02-12: <c>facedetect*</c> → <c>detect*</c>); read wherever a type id is read.</summary>
    private static readonly Dictionary<string, string> Aliases = new(StringComparer.Ordinal)
    {
        ["facedetect"] = "detect",
        ["facedetect-identity"] = "detect-concept",
        ["facedetect-demographics"] = "detect-concept",
        ["facedetect-embed"] = "detect-embed",
    };

    /// <summary>The current id of a type id (its alias target, or itself).</summary>
    public static string Canonical(string id) => Aliases.GetValueOrDefault(id, id);

    public static ModelType? Find(string id) => All.FirstOrDefault(t => string.Equals(t.Id, Canonical(id), StringComparison.Ordinal));

    private static ModelType EmbeddingClassifier()
    {
        var type = Type(EmbeddingClassifierId, "Transfer Learn (Embedding Classifier)",
            "Classify images into your own concepts with a classifier trained in seconds on the embeddings your app's base workflow stored for your labelled inputs.",
            ["concepts"], withConcepts: true);
        type.EvaluationType = EvaluationType.Classification;
        type.ModelTypeFields.Add(new ModelTypeField
        {
            Path = "output_info.output_config.concepts_mutually_exclusive",
            FieldType = ModelTypeField.Types.ModelTypeFieldType.Boolean,
            DefaultValue = Value.ForBool(false),
            Description = "Whether each input belongs to exactly one concept (softmax over the concepts) or to any number (one classifier per concept).",
        });
        type.ModelTypeFields.Add(new ModelTypeField
        {
            Path = "input_info.base_embed_model",
            FieldType = ModelTypeField.Types.ModelTypeFieldType.WorkflowEmbedModels,
            Description = "The embedder whose stored embeddings the classifier is trained on; by default the app's base-workflow embedder.",
        });
        var enrich = new ModelTypeField
        {
            Path = "train_info.params.enrich_dataset",
            FieldType = ModelTypeField.Types.ModelTypeFieldType.Enum,
            DefaultValue = Value.ForString("Automatic"),
            Description = "Add supplemental negative embeddings (of a diverse set of photographs) to the training data when the base embedder has them.",
            Required = false,
        };
        enrich.ModelTypeEnumOptions.Add(new ModelTypeEnumOption { Id = "Automatic", Description = "Use the base embedder's supplemental negatives when it has some.", Recommended = true });
        enrich.ModelTypeEnumOptions.Add(new ModelTypeEnumOption { Id = "Disabled", Description = "Train on the app's labelled inputs only." });
        type.ModelTypeFields.Add(enrich);
        return type;
    }

    private static ModelType Legacy(string id, string title, string description, string[] outputs) => new()
    {
        Id = id,
        Title = title,
        Description = description,
        InputFields = { "image" },
        OutputFields = { outputs },
        Trainable = false,
        Creatable = true,
        EvaluationType = EvaluationType.Undefined,
    };

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
