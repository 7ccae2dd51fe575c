using Clarifai.Api;
using Clarifai.Api.Status;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Server.Api;
using Iris.Server.Seams;
using Iris.Storage.Inputs;

namespace Iris.Server.Inputs;

/// <summary>
/// An app's concepts: created explicitly (PostConcepts, atomic; a taken id → 40003) or on first use by an input or
/// annotation; counted from annotations (GetConceptCounts); searched by name prefix within the app (PostConceptsSearches).
/// </summary>
internal sealed class ConceptsModule(IAppAccess access, IInputStore store, TimeProvider time) : IApiModule
{
    public const int MaxConceptIdLength = 256;

    public void Register(HandlerRegistry registry)
    {
        registry.Add<PostConceptsRequest, MultiConceptResponse>(nameof(V2.V2Base.PostConcepts), PostAsync);
        registry.Add<GetConceptRequest, SingleConceptResponse>(nameof(V2.V2Base.GetConcept), GetAsync);
        registry.Add<ListConceptsRequest, MultiConceptResponse>(nameof(V2.V2Base.ListConcepts), ListAsync);
        registry.Add<PatchConceptsRequest, MultiConceptResponse>(nameof(V2.V2Base.PatchConcepts), PatchAsync);
        registry.Add<PostConceptsSearchesRequest, MultiConceptResponse>(nameof(V2.V2Base.PostConceptsSearches), SearchAsync);
        registry.Add<GetConceptCountsRequest, MultiConceptCountResponse>(nameof(V2.V2Base.GetConceptCounts), CountsAsync);
    }

    private static Concept ToConcept(AppRef app, ConceptRow row) => new()
    {
        Id = row.Id,
        Name = row.Name,
        Language = row.Language,
        AppId = app.AppId,
        UserId = app.UserId,
        CreatedAt = InputMapper.Time(row.CreatedAt),
        Value = 1f,
    };

    private async ValueTask<MultiConceptResponse> PostAsync(PostConceptsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        if (request.Concepts.Count == 0)
        {
            throw new IrisException(StatusCode.ConceptsInvalidRequest, "concepts must contain at least one concept.");
        }

        var now = time.GetUtcNow();
        var rows = new List<ConceptRow>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in request.Concepts)
        {
            if (string.IsNullOrEmpty(c.Id) || c.Id.Length > MaxConceptIdLength)
            {
                throw new IrisException(StatusCode.ConceptsInvalidRequest, $"A concept id must be 1 to {MaxConceptIdLength} characters.");
            }

            if (!seen.Add(c.Id))
            {
                throw new IrisException(StatusCode.ConceptsInvalidRequest, $"Concept '{c.Id}' appears twice in the request (duplicate id).");
            }

            rows.Add(new ConceptRow(c.Id, string.IsNullOrEmpty(c.Name) ? c.Id : c.Name, c.Language, now, now));
        }

        var taken = await store.AddConceptsAsync(app, rows, ct).ConfigureAwait(false);
        if (taken.Count > 0)
        {
            throw new IrisException(StatusCode.ConceptsInvalidRequest, $"Concept '{taken[0]}' already exists in app '{app.AppId}' (duplicate id).");
        }

        var response = new MultiConceptResponse { Status = StatusWriter.Ok() };
        response.Concepts.Add(rows.Select(r => ToConcept(app, r)));
        return response;
    }

    private async ValueTask<SingleConceptResponse> GetAsync(GetConceptRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        var row = await store.GetConceptAsync(app, request.ConceptId, ct).ConfigureAwait(false) ?? throw NotFound(app, request.ConceptId);
        return new SingleConceptResponse { Status = StatusWriter.Ok(), Concept = ToConcept(app, row) };
    }

    private static IrisException NotFound(AppRef app, string id) => new(StatusCode.ConnDoesNotExist, $"Concept '{id}' does not exist in app '{app.AppId}'.");

    private async ValueTask<MultiConceptResponse> ListAsync(ListConceptsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        var (page, perPage) = Paging.Read(request.Page, request.PerPage);
        var response = new MultiConceptResponse { Status = StatusWriter.Ok() };
        var rows = await store.ListConceptsAsync(app, page, perPage, null, ct).ConfigureAwait(false);
        response.Concepts.Add(rows.Where(r => string.IsNullOrEmpty(request.Id) || r.Id == request.Id).Select(r => ToConcept(app, r)));
        return response;
    }

    private async ValueTask<MultiConceptResponse> PatchAsync(PatchConceptsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        if (request.Action is not ("overwrite" or "merge"))
        {
            throw new IrisException(StatusCode.ConceptsInvalidRequest, $"action must be 'overwrite' (or 'merge'); got '{request.Action}'.");
        }

        var updated = new List<ConceptRow>();
        foreach (var c in request.Concepts)
        {
            var row = await store.GetConceptAsync(app, c.Id, ct).ConfigureAwait(false) ?? throw NotFound(app, c.Id);
            updated.Add(row with
            {
                Name = string.IsNullOrEmpty(c.Name) ? row.Name : c.Name,
                Language = string.IsNullOrEmpty(c.Language) ? row.Language : c.Language,
                ModifiedAt = time.GetUtcNow(),
            });
        }

        foreach (var row in updated)
        {
            await store.UpdateConceptAsync(app, row, ct).ConfigureAwait(false);
        }

        var response = new MultiConceptResponse { Status = StatusWriter.Ok() };
        response.Concepts.Add(updated.Select(r => ToConcept(app, r)));
        return response;
    }

    private async ValueTask<MultiConceptResponse> SearchAsync(PostConceptsSearchesRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        var query = request.ConceptQuery ?? throw new IrisException(StatusCode.ConceptsInvalidRequest, "concept_query is required.");
        if (query.Model is not null || query.Workflow is not null)
        {
            throw new IrisException(StatusCode.NotImplemented, "Searching the concepts of a model or workflow is not implemented in this version of Iris; search the app's concepts.");
        }

        var page = Paging.Read(request.Pagination?.Page ?? 0, request.Pagination?.PerPage ?? 0);
        var response = new MultiConceptResponse { Status = StatusWriter.Ok() };
        if (!query.IgnoreAppConcepts)
        {
            // Name prefix, case-insensitive; "*" or empty matches every concept.
            var prefix = query.Name is "" or "*" ? string.Empty : query.Name.TrimEnd('*');
            response.Concepts.Add((await store.ListConceptsAsync(app, page.Number, page.Size, prefix, ct).ConfigureAwait(false)).Select(r => ToConcept(app, r)));
        }

        return response;
    }

    private async ValueTask<MultiConceptCountResponse> CountsAsync(GetConceptCountsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        var (page, perPage) = Paging.Read(request.Page, request.PerPage);
        var response = new MultiConceptCountResponse { Status = StatusWriter.Ok() };
        foreach (var row in await store.ConceptCountsAsync(app, page, perPage, ct).ConfigureAwait(false))
        {
            response.ConceptCounts.Add(new ConceptCount
            {
                Id = row.Id,
                Name = row.Name,
                ConceptTypeCount = new ConceptTypeCount { Positive = (uint)row.Positive, Negative = (uint)row.Negative },
            });
        }

        return response;
    }
}
