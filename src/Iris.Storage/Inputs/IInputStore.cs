using Iris.Core.Apps;

namespace Iris.Storage.Inputs;

/// <summary>
/// Inputs, annotations and concepts of an app. Every method is keyed by the app; inputs being deleted are invisible to
/// reads. Writes that create work (adding inputs, deleting them) queue it in the same transaction.
/// </summary>
public interface IInputStore
{
    /// <summary>
    /// Adds inputs atomically with their input-level annotations, concepts, dataset links and ingestion work. Per-input
    /// outcomes (duplicate id or URL, unknown dataset) skip that input only. <paramref name="addJobId"/>, when set, is
    /// created if new.
    /// </summary>
    Task<IReadOnlyList<AddResult>> AddInputsAsync(AppRef app, IReadOnlyList<NewInput> inputs, string? addJobId, CancellationToken cancellationToken);

    Task<InputRow?> GetInputAsync(AppRef app, string id, CancellationToken cancellationToken);

    /// <summary>Newest first.</summary>
    Task<IReadOnlyList<InputRow>> ListInputsAsync(AppRef app, int page, int perPage, int? statusCode, IReadOnlyList<string> ids, CancellationToken cancellationToken);

    /// <summary>Inputs after the input <paramref name="lastId"/> (exclusive), by creation or by id.</summary>
    Task<IReadOnlyList<InputRow>> StreamInputsAsync(AppRef app, int perPage, string? lastId, bool descending, bool orderById, CancellationToken cancellationToken);

    Task<InputCounts> CountInputsAsync(AppRef app, CancellationToken cancellationToken);

    /// <summary>Hides the inputs at once and queues their purge; returns the ids that existed.</summary>
    Task<IReadOnlyList<string>> MarkDeletingAsync(AppRef app, IReadOnlyList<string> ids, CancellationToken cancellationToken);

    /// <summary>
    /// Removes a deleted input with its annotations and dataset links, and deletes its blobs that nothing else references.
    /// False (nothing done) while its ingestion is leased by a worker: purge again later.
    /// </summary>
    Task<bool> PurgeInputAsync(AppRef app, string id, CancellationToken cancellationToken);

    /// <summary>Moves a pending input to in progress; null when it is gone, being deleted, or already finished.</summary>
    Task<InputRow?> BeginProcessingAsync(AppRef app, string id, CancellationToken cancellationToken);

    /// <summary>Records the processed image and marks the input successful; false when it is being deleted.</summary>
    Task<bool> CompleteImageAsync(AppRef app, string id, string blobKey, string thumbKey, int width, int height, string format, string colorMode, CancellationToken cancellationToken);

    /// <summary>Marks a non-image input successful; false when it is being deleted.</summary>
    Task<bool> CompleteAsync(AppRef app, string id, CancellationToken cancellationToken);

    Task FailInputAsync(AppRef app, string id, int statusCode, string details, CancellationToken cancellationToken);

    /// <summary>Deletes those blobs that no input references (uploads of inputs that were not added).</summary>
    Task ReleaseBlobsAsync(IReadOnlyList<string> blobKeys, CancellationToken cancellationToken);

    /// <summary>DeleteApp: removes every row of the app (inputs, annotations, concepts, datasets, jobs) and its unreferenced blobs. Idempotent.</summary>
    Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken);

    /// <summary>PatchAppsIds: re-keys every row of <paramref name="from"/> to <paramref name="to"/>.</summary>
    Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken);

    /// <summary>The input with <paramref name="blobKey"/> as original or thumbnail, for serving hosted bytes.</summary>
    Task<InputRow?> FindByBlobAsync(AppRef app, string blobKey, CancellationToken cancellationToken);

    // Add-jobs

    Task<AddJobRow?> GetAddJobAsync(AppRef app, string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<AddJobRow>> ListAddJobsAsync(AppRef app, int page, int perPage, CancellationToken cancellationToken);

    /// <summary>Cancels the job: its inputs still pending fail with <paramref name="details"/>; false when there is no such job.</summary>
    Task<bool> CancelAddJobAsync(AppRef app, string id, string details, CancellationToken cancellationToken);

    // Annotations

    /// <summary>The input-level annotation of each input (by input id).</summary>
    Task<IReadOnlyDictionary<string, AnnotationRow>> InputLevelAnnotationsAsync(AppRef app, IReadOnlyList<string> inputIds, CancellationToken cancellationToken);

    /// <summary>Replaces (or creates) the input-level annotation of an input.</summary>
    Task PutInputLevelAnnotationAsync(AppRef app, NewAnnotation annotation, CancellationToken cancellationToken);

    /// <summary>Adds annotations atomically; returns the ids already taken (nothing is written then).</summary>
    Task<IReadOnlyList<string>> AddAnnotationsAsync(AppRef app, IReadOnlyList<NewAnnotation> annotations, CancellationToken cancellationToken);

    /// <summary>
    /// User annotations newest first (by seq); with <see cref="AnnotationQuery.ModelVersions"/>, model annotations as well
    /// (<see cref="ModelAnnotations"/>, read from the base-workflow index), all in one order: created_at descending, then
    /// user before model annotations, then seq (user) or input id and model version (model).
    /// </summary>
    Task<IReadOnlyList<AnnotationRow>> ListAnnotationsAsync(AppRef app, AnnotationQuery filter, int page, int perPage, CancellationToken cancellationToken);

    Task<AnnotationRow?> GetAnnotationAsync(AppRef app, string id, CancellationToken cancellationToken);

    Task UpdateAnnotationAsync(AppRef app, NewAnnotation annotation, CancellationToken cancellationToken);

    /// <summary>Deletes annotations by (input, annotation) pairs; a null annotation id deletes all of that input's annotations.</summary>
    Task<int> DeleteAnnotationsAsync(AppRef app, IReadOnlyList<(string InputId, string? AnnotationId)> targets, CancellationToken cancellationToken);

    // Concepts

    /// <summary>Adds concepts atomically; returns the ids already taken (nothing is written then).</summary>
    Task<IReadOnlyList<string>> AddConceptsAsync(AppRef app, IReadOnlyList<ConceptRow> concepts, CancellationToken cancellationToken);

    Task<ConceptRow?> GetConceptAsync(AppRef app, string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<ConceptRow>> ListConceptsAsync(AppRef app, int page, int perPage, string? namePrefix, CancellationToken cancellationToken);

    Task UpdateConceptAsync(AppRef app, ConceptRow concept, CancellationToken cancellationToken);

    Task<IReadOnlyList<ConceptCountRow>> ConceptCountsAsync(AppRef app, int page, int perPage, CancellationToken cancellationToken);
}

/// <summary>Datasets, their inputs and their frozen versions.</summary>
public interface IDatasetStore
{
    /// <summary>Adds datasets atomically; returns the ids already taken (nothing is written then).</summary>
    Task<IReadOnlyList<string>> AddDatasetsAsync(AppRef app, IReadOnlyList<DatasetRow> datasets, CancellationToken cancellationToken);

    Task<DatasetRow?> GetDatasetAsync(AppRef app, string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<DatasetRow>> ListDatasetsAsync(AppRef app, int page, int perPage, CancellationToken cancellationToken);

    Task UpdateDatasetAsync(AppRef app, DatasetRow dataset, CancellationToken cancellationToken);

    /// <summary>Deletes the datasets with their input links and versions; returns the ids that existed.</summary>
    Task<IReadOnlyList<string>> DeleteDatasetsAsync(AppRef app, IReadOnlyList<string> ids, CancellationToken cancellationToken);

    /// <summary>Links inputs to a dataset; returns per input id whether it was added (false: missing or already linked).</summary>
    Task<IReadOnlyDictionary<string, bool>> AddDatasetInputsAsync(AppRef app, string datasetId, IReadOnlyList<string> inputIds, CancellationToken cancellationToken);

    Task<IReadOnlyList<DatasetInputRow>> ListDatasetInputsAsync(AppRef app, string datasetId, int page, int perPage, CancellationToken cancellationToken);

    Task<int> DeleteDatasetInputsAsync(AppRef app, string datasetId, IReadOnlyList<string> inputIds, CancellationToken cancellationToken);

    /// <summary>Adds pending versions and queues their freezing; returns the ids already taken (nothing is written then).</summary>
    Task<IReadOnlyList<string>> AddDatasetVersionsAsync(AppRef app, IReadOnlyList<DatasetVersionRow> versions, CancellationToken cancellationToken);

    Task<DatasetVersionRow?> GetDatasetVersionAsync(AppRef app, string datasetId, string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<DatasetVersionRow>> ListDatasetVersionsAsync(AppRef app, string datasetId, int page, int perPage, CancellationToken cancellationToken);

    Task SetDatasetVersionStateAsync(AppRef app, string datasetId, string id, int statusCode, string details, byte[]? body, CancellationToken cancellationToken);

    /// <summary>Replaces the snapshot of a version (idempotent) and marks it with <paramref name="statusCode"/>.</summary>
    Task WriteVersionSnapshotAsync(AppRef app, string datasetId, string id, IReadOnlyList<VersionItem> items, byte[] body, int statusCode, CancellationToken cancellationToken);

    Task<IReadOnlyList<VersionItem>> ReadVersionSnapshotAsync(AppRef app, string datasetId, string id, CancellationToken cancellationToken);
}
