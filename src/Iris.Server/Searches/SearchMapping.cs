using System.Text.Json;
using Clarifai.Api;
using Clarifai.Api.Status;
using Google.Protobuf;
using Iris.Core.Errors;
using Iris.Inference.Predict;
using Iris.Search.Planning;
using SearchMessage = Clarifai.Api.Search;
using Iris.Storage.Searches;
using Rank = Iris.Search.Planning.Rank;

namespace Iris.Server.Searches;

/// <summary>
/// The one place where Clarifai's search messages become the planner's query (CLARIFAI_FACTS.md 7): ranks and filters of
/// <c>Query</c>, the legacy <c>query.ands</c>, and the <c>Search</c> settings. Anything Iris cannot answer is refused
/// with 40002 naming the field, never ignored.
/// </summary>
internal static class SearchMapping
{
    public const string NearestNeighbor = "nearest_neighbor";
    public const string BruteForce = "brute_force";
    public const string AvgConceptBruteForce = "avg_concept_brute_force";

    /// <summary>The planner's query for one <c>Search</c>.</summary>
    public static SearchQuery ToQuery(SearchMessage search)
    {
        var algorithm = search.Algorithm;
        if (algorithm.Length > 0 && algorithm is not (NearestNeighbor or BruteForce or AvgConceptBruteForce))
        {
            throw Invalid($"Search.algorithm must be '{NearestNeighbor}', '{BruteForce}' or '{AvgConceptBruteForce}'; got '{algorithm}'.");
        }

        if (search.Metric == SearchMessage.Types.Metric.CosineDistance && algorithm is "" or NearestNeighbor)
        {
            throw Invalid($"Search.metric COSINE_DISTANCE works only with algorithm '{BruteForce}'; nearest_neighbor search uses EUCLIDEAN_DISTANCE.");
        }

        if (!Enum.IsDefined(search.Metric))
        {
            throw Invalid($"Search.metric {(int)search.Metric} is not a metric (METRIC_NOT_SET, EUCLIDEAN_DISTANCE, COSINE_DISTANCE).");
        }

        if (search.MinValue is < 0 or > 1 || float.IsNaN(search.MinValue))
        {
            throw Invalid($"Search.min_value must be between 0 and 1 (scores lie in [0, 1]); got {search.MinValue}.");
        }

        var query = search.Query ?? new Query();
        var ranks = new List<Rank>();
        var conditions = new List<InputCondition>();
        var clauses = new List<Clause>();
        foreach (var rank in query.Ranks)
        {
            AddRank(rank.Annotation, rank.Negate, ranks);
        }

        foreach (var filter in query.Filters)
        {
            var (c, k) = FilterParts(filter.Annotation, filter.Input, filter.LastUpdatedTimeRange);
            Combine(c, k, filter.Negate, conditions, clauses);
        }

#pragma warning disable CS0612 // query.ands is deprecated, and still what the legacy PostSearches sends.
        foreach (var and in query.Ands)
#pragma warning restore CS0612
        {
            if (and.Output is { } output)
            {
                var annotation = new Annotation { Data = output.Data?.Clone() ?? new Data(), InputId = output.Input?.Id ?? string.Empty };
                if (output.Input?.Data is { } inputData)
                {
                    annotation.Data.Image = inputData.Image;
                    annotation.Data.Text = inputData.Text;
                    annotation.Data.Embeddings.Add(inputData.Embeddings);
                }

                AddRank(annotation, and.Negate, ranks);
            }

            if (and.Input is not null || and.Annotation is not null)
            {
                var (c, k) = FilterParts(and.Annotation, and.Input, null);
                Combine(c, k, and.Negate, conditions, clauses);
            }
        }

        return new SearchQuery(ranks, conditions, clauses, search.MinValue);
    }

    private static IrisException Invalid(string details) => new(StatusCode.SearchInvalidRequest, details);

    // A field given twice (deprecated and current place) must name the same value.
    private static string Same(string oldName, string oldValue, string newName, string newValue) =>
        oldValue.Length == 0 || string.Equals(oldValue, newValue, StringComparison.Ordinal)
            ? newValue
            : throw Invalid($"annotation.{oldName} '{oldValue}' and annotation.{newName} '{newValue}' disagree: give one of them.");

    private static bool Blank(Annotation annotation)
    {
        var copy = annotation.Clone();
        if (copy.Data is { } data && data.CalculateSize() == 0)
        {
            copy.Data = null;
        }

        return copy.CalculateSize() == 0;
    }

    private static void AddRank(Annotation? annotation, bool negate, List<Rank> ranks)
    {
        // The SDK sends one empty rank when it has none (CLARIFAI_FACTS.md 9): a no-op.
        if (annotation is null || Blank(annotation))
        {
            return;
        }

        var before = ranks.Count;
        if (annotation.Data is { } data)
        {
            foreach (var embedding in data.Embeddings)
            {
                if (embedding.Vector.Count == 0 || (embedding.NumDimensions != 0 && embedding.NumDimensions != embedding.Vector.Count))
                {
                    throw Invalid($"A rank's data.embeddings[].vector must hold num_dimensions values; got {embedding.Vector.Count} values, num_dimensions {embedding.NumDimensions}.");
                }

                ranks.Add(new Rank.Vector([.. embedding.Vector], negate));
            }

            if (data.Image is { } image)
            {
                if (!image.Base64.IsEmpty)
                {
                    ranks.Add(new Rank.Image(new ImageSource.Bytes(image.Base64.Memory), negate));
                }
                else if (image.Url.Length > 0)
                {
                    ranks.Add(new Rank.Image(new ImageSource.Url(image.Url), negate));
                }
                else if (annotation.InputId.Length == 0)
                {
                    // The legacy client sends {"input": {"id": …, "data": {"image": {}}}} to rank by a stored input.
                    throw Invalid("A rank's data.image needs url or base64.");
                }
            }

            if (data.Text is { } text)
            {
                ranks.Add(new Rank.Text(text.Raw, negate));
            }

            foreach (var concept in data.Concepts)
            {
                if (concept.Id.Length == 0 && concept.Name.Length == 0)
                {
                    throw Invalid("A rank's data.concepts[] needs an id or a name.");
                }

                ranks.Add(new Rank.Concept(concept.Id, concept.Name, concept.Value > 0, negate));
            }
        }

        if (annotation.InputId.Length > 0)
        {
            ranks.Add(new Rank.SimilarTo(annotation.InputId, negate));
        }

        if (ranks.Count == before)
        {
            throw Invalid("A rank needs one of annotation.data.image (url or base64), data.embeddings, data.concepts, data.text.raw or annotation.input_id; this rank has none Iris can rank by.");
        }
    }

    private static void Combine(List<InputCondition> parts, List<Clause> clauseParts, bool negate, List<InputCondition> conditions, List<Clause> clauses)
    {
        if (!negate)
        {
            conditions.AddRange(parts);
            clauses.AddRange(clauseParts);
            return;
        }

        if (parts.Count + clauseParts.Count == 0)
        {
            return;
        }

        if (clauseParts.Count == 0)
        {
            conditions.Add(parts.Count == 1 ? parts[0] with { Negate = !parts[0].Negate } : new InputCondition.All(parts, true));
        }
        else if (parts.Count == 0 && clauseParts.Count == 1)
        {
            clauses.Add(clauseParts[0] with { Negate = true });
        }
        else
        {
            throw Invalid("A negated filter may hold one metadata or geo clause, or any number of other fields, not both: send the metadata or geo part as its own negated filter.");
        }
    }

    private static (List<InputCondition> Conditions, List<Clause> Clauses) FilterParts(Annotation? annotation, Input? input, TimeRange? range)
    {
        var conditions = new List<InputCondition>();
        var clauses = new List<Clause>();
        if (annotation is not null)
        {
            if (annotation.Data is { } data)
            {
                DataParts(data, conditions, clauses, "annotation.data");
                if (data.Text is not null)
                {
                    // {"text": {}} selects text annotations, i.e. annotations of text inputs (CLARIFAI_FACTS.md 7.1).
                    conditions.Add(new InputCondition.Kinds(["text"], false));
                }
            }

            if (annotation.InputId.Length > 0)
            {
                conditions.Add(new InputCondition.InputIds([annotation.InputId], false));
            }

#pragma warning disable CS0612 // user_id, model_version_id and trusted are deprecated fields clients still filter by.
            var userId = annotation.UserId;
            var modelVersionId = annotation.ModelVersionId;
            var trusted = annotation.Trusted;
#pragma warning restore CS0612
            // worker is where the current protos put the author and the model version (user_id and model_version_id
            // are deprecated for them): the same filters.
            switch (annotation.Worker)
            {
                case null:
                    break;
                case { WorkerCase: Worker.WorkerOneofCase.User, User.Id.Length: > 0 }:
                    userId = Same("user_id", userId, "worker.user.id", annotation.Worker.User.Id);
                    break;
                case { WorkerCase: Worker.WorkerOneofCase.Model, Model.ModelVersion.Id.Length: > 0 }:
                    modelVersionId = Same("model_version_id", modelVersionId, "worker.model.model_version.id", annotation.Worker.Model.ModelVersion.Id);
                    break;
                default:
                    throw Invalid("annotation.worker filters by worker.user.id or worker.model.model_version.id; Iris has no annotations made by a workflow (worker.workflow), and a worker without one of these ids names no annotation.");
            }

            var status = annotation.Status?.Code is { } code && code != StatusCode.Zero ? (int?)code : null;
            if (modelVersionId.Length > 0)
            {
                // A model annotation: the base workflow's output of that model version on the input (its embedding or
                // predicted concepts, CLARIFAI_FACTS.md 8.3), input-level and successful, with its derived id
                // (ModelAnnotations.IdOf). It has no author and is never trusted: asking for either as well matches none.
                var userFields = userId.Length > 0 || trusted || (status is not null && status != (int)StatusCode.AnnotationSuccess);
                conditions.Add(userFields ? new InputCondition.InputIds([], false)
                    : new InputCondition.ModelOutput(modelVersionId, false, annotation.Id.Length > 0 ? annotation.Id : null));
            }
            else if (annotation.Id.Length > 0 || userId.Length > 0 || status is not null || annotation.InputLevel || trusted)
            {
                // Every annotation Iris stores is a user's, so trusted (proto3: only true can be asked for) holds for all of them.
                conditions.Add(new InputCondition.Annotation(annotation.Id.Length > 0 ? annotation.Id : null, annotation.InputLevel ? true : null,
                    userId.Length > 0 ? userId : null, status, false));
            }

            if (annotation.TaskId.Length > 0 || annotation.AnnotationInfo is not null)
            {
                throw Invalid("Filtering by annotation.task_id or annotation_info is not supported by Iris.");
            }
        }

        if (input is not null)
        {
            if (input.Id.Length > 0)
            {
                conditions.Add(new InputCondition.InputIds([input.Id], false));
            }

            if (input.DatasetIds.Count > 0)
            {
                conditions.Add(new InputCondition.Datasets([.. input.DatasetIds], false));
            }

            if (input.Status?.Code is { } code && code != StatusCode.Zero)
            {
                conditions.Add(new InputCondition.Status((int)code, false));
            }

            if (input.Data is { } data)
            {
                var kinds = new List<string>();
                if (data.Image is { } image)
                {
                    if (image.Url.Length > 0)
                    {
                        conditions.Add(new InputCondition.Url(image.Url, false));
                    }
                    else
                    {
                        kinds.Add("image");
                    }
                }

                if (data.Video is not null)
                {
                    kinds.Add("video");
                }

                if (data.Text is not null)
                {
                    kinds.Add("text");
                }

                if (data.Audio is not null)
                {
                    kinds.Add("audio");
                }

                if (kinds.Count > 0)
                {
                    conditions.Add(new InputCondition.Kinds(kinds, false));
                }

                DataParts(data, conditions, clauses, "input.data");
            }
        }

        if (range is not null && (range.StartTime is not null || range.EndTime is not null))
        {
            conditions.Add(new InputCondition.UpdatedBetween(
                range.StartTime is { } start ? Micros(start.ToDateTimeOffset()) : null,
                range.EndTime is { } end ? Micros(end.ToDateTimeOffset()) : null, false));
        }

        return (conditions, clauses);
    }

    private static long Micros(DateTimeOffset at) => (at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    // Concepts (user labels), metadata and geo of a filter's data.
    private static void DataParts(Data data, List<InputCondition> conditions, List<Clause> clauses, string path)
    {
        foreach (var concept in data.Concepts)
        {
            if (concept.Id.Length == 0 && concept.Name.Length == 0)
            {
                throw Invalid($"A filter's {path}.concepts[] needs an id or a name.");
            }

            conditions.Add(new InputCondition.Label(concept.Id, concept.Name, concept.Value > 0, false));
        }

        if (data.Metadata is { } metadata)
        {
            clauses.Add(new Clause.Metadata(JsonDocument.Parse(JsonFormatter.Default.Format(metadata)).RootElement.Clone(), false));
        }

        if (data.Geo is { } geo)
        {
            clauses.Add(GeoClause(geo, path));
        }

        if (data.Regions.Count > 0 || data.Clusters.Count > 0 || data.Frames.Count > 0 || data.TimeSegments.Count > 0)
        {
            throw Invalid($"Filtering by {path}.regions, clusters, frames or time_segments is not supported by Iris.");
        }
    }

    private static Clause GeoClause(Geo geo, string path)
    {
        if (geo.GeoBox.Count > 0)
        {
            if (geo.GeoBox.Count != 2 || geo.GeoBox.Any(p => p.GeoPoint is null))
            {
                throw Invalid($"{path}.geo.geo_box needs exactly two corners with geo_point; got {geo.GeoBox.Count}.");
            }

            var (a, b) = (geo.GeoBox[0].GeoPoint, geo.GeoBox[1].GeoPoint);
            CheckPoint(a, path);
            CheckPoint(b, path);
            return new Clause.GeoBox(a.Longitude, a.Latitude, b.Longitude, b.Latitude, false);
        }

        if (geo.GeoPoint is not { } point)
        {
            throw Invalid($"{path}.geo needs geo_point with geo_limit, or geo_box with two corners.");
        }

        CheckPoint(point, path);
        if (geo.GeoLimit is not { } limit)
        {
            throw Invalid($"{path}.geo.geo_point needs a geo_limit (type withinKilometers, withinMiles, withinDegrees or withinRadians, and a value).");
        }

        if (!(limit.Value > 0) || float.IsInfinity(limit.Value))
        {
            throw Invalid($"{path}.geo.geo_limit.value must be a positive distance; got {limit.Value}.");
        }

        double km = limit.Type.ToUpperInvariant() switch
        {
            "WITHINKILOMETERS" => limit.Value,
            "WITHINMILES" => limit.Value * 1.609344,
            "WITHINDEGREES" => limit.Value * Math.PI / 180 * 6371.0088,
            "WITHINRADIANS" => limit.Value * 6371.0088,
            _ => throw Invalid($"{path}.geo.geo_limit.type must be withinKilometers, withinMiles, withinDegrees or withinRadians; got '{limit.Type}'."),
        };
        return new Clause.GeoCircle(point.Longitude, point.Latitude, km, false);
    }

    private static void CheckPoint(GeoPoint point, string path)
    {
        if (point.Longitude is < -180 or > 180 || point.Latitude is < -90 or > 90 || float.IsNaN(point.Longitude) || float.IsNaN(point.Latitude))
        {
            throw Invalid($"{path}.geo points need longitude in [-180, 180] and latitude in [-90, 90]; got ({point.Longitude}, {point.Latitude}).");
        }
    }
}
