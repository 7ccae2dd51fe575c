using Clarifai.Api;
using Iris.Core.Apps;
using Iris.Inference.Zoo;

namespace Iris.Inference.Workflows;

/// <summary>A public workflow of <c>clarifai/main</c>, defined by Iris like its built-in models.</summary>
/// <param name="Id">Its id (Clarifai's spelling, case-sensitive).</param>
/// <param name="Description">What it runs, as GetWorkflow says.</param>
/// <param name="Notes">Where it differs from Clarifai's workflow of the same name.</param>
/// <param name="Nodes">Its graph; every node's model is a built-in of <c>clarifai/main</c>.</param>
/// <param name="BaseChoice">Whether an app may take it as its base workflow (<c>default_workflow</c>).</param>
public sealed record BuiltinWorkflow(string Id, string Description, string Notes, IReadOnlyList<WorkflowNode> Nodes, bool BaseChoice);

/// <summary>
/// The public workflows of <c>clarifai/main</c> (CLARIFAI_FACTS.md 8.2): <c>General</c>, <c>Demographics</c>,
/// <c>Face</c>, <c>Face-Sentiment</c>, <c>OCR</c>, and the base-workflow choices <c>Empty</c>, <c>General</c> and
/// <c>Universal</c>. Each runs only models Iris really has; what Clarifai's runs beyond them is in <see cref="BuiltinWorkflow.Notes"/>
/// and docs/workflows.md.
/// </summary>
public sealed class PublicWorkflows
{
    public const string Empty = "Empty";
    public const string General = "General";
    public const string Universal = "Universal";

    /// <summary>The base workflow of apps created before apps chose one: what their stored embeddings were made with.</summary>
    public const string Legacy = General;

    /// <summary>What PostApps gives an app that names none (Clarifai's default for apps created through the API).</summary>
    public const string DefaultForNewApps = Universal;

    public PublicWorkflows(ModelZoo zoo)
    {
        WorkflowNode Node(string id, string modelId, string? input = null)
        {
            var model = zoo.Find(modelId) ?? throw new InvalidOperationException($"Built-in model '{modelId}' is missing.");
            var node = new WorkflowNode
            {
                Id = id,
                Model = new Model
                {
                    Id = modelId,
                    AppId = AppRef.ClarifaiMain.AppId,
                    UserId = AppRef.ClarifaiMain.UserId,
                    ModelVersion = new ModelVersion { Id = model.Descriptor.VersionId },
                },
            };
            if (input is not null)
            {
                node.NodeInputs.Add(new NodeInput { NodeId = input });
            }

            return node;
        }

        All =
        [
            new(Empty, "Runs no model: inputs are stored and listed, but not indexed for visual search or predicted concepts.",
                string.Empty, [], BaseChoice: true),
            new(General, "General image recognition (concepts) and general image embedding (visual search).",
                "Iris' general-image-recognition knows the 80 COCO concepts, not Clarifai's ~11,000.",
                [Node("general-concept", GeneralRecognitionModel.Id), Node("general-embed", GeneralEmbeddingModel.Id)], BaseChoice: true),
            new(Universal, "General image recognition and general image embedding: the base workflow of apps created through the API.",
                "Clarifai's Universal also embeds text and clusters; Iris has no text embedder or clusterer, so on images it runs what General runs.",
                [Node("general-concept", GeneralRecognitionModel.Id), Node("general-embed", GeneralEmbeddingModel.Id)], BaseChoice: true),
            new("Demographics", "Face detection, then on each face crop apparent age and gender as separate models (concepts with vocab_id).",
                "Clarifai's also runs a cropper node and a multicultural-appearance model; Iris has no appearance model, so that output is absent.",
                [Node("face-detect", FaceDetectionModel.Id), Node("age", AgeDemographicsModel.Id, "face-detect"), Node("gender", GenderDemographicsModel.Id, "face-detect")],
                BaseChoice: false),
            new("Face", "Face detection, then on each face crop expression, apparent age and gender (concepts with vocab_id).",
                "Clarifai's Face base workflow embeds faces for face search; Iris has no face embedder, so Iris' Face describes each face instead.",
                [
                    Node("face-detect", FaceDetectionModel.Id), Node("face-sentiment", FaceSentimentModel.Id, "face-detect"),
                    Node("age", AgeDemographicsModel.Id, "face-detect"), Node("gender", GenderDemographicsModel.Id, "face-detect"),
                ],
                BaseChoice: false),
            new("Face-Sentiment", "Face detection, then the facial expression of each face crop.", string.Empty,
                [Node("face-detect", FaceDetectionModel.Id), Node("face-sentiment", FaceSentimentModel.Id, "face-detect")], BaseChoice: false),
            new("OCR", "Scene text: each line of text found, with its box and the text read (PaddleOCR PP-OCRv4, English).", string.Empty,
                [Node("ocr", OcrModel.Id)], BaseChoice: false),
        ];
    }

    public IReadOnlyList<BuiltinWorkflow> All { get; }

    /// <summary>The public workflow with this id (case-sensitive, as Clarifai's ids), or null.</summary>
    public BuiltinWorkflow? Find(string id) => All.FirstOrDefault(w => string.Equals(w.Id, id, StringComparison.Ordinal));

    /// <summary>The ids an app may choose as its base workflow.</summary>
    public IEnumerable<string> BaseChoices => All.Where(w => w.BaseChoice).Select(w => w.Id);
}
