using Clarifai.Api;
using Clarifai.Api.Status;
using Google.Protobuf;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Search.Planning;
using SearchMessage = Clarifai.Api.Search;
using Iris.Server.Api;
using Iris.Server.Inputs;
using Iris.Server.Seams;
using Iris.Server.Validation;
using Iris.Storage.Inputs;
using Iris.Storage.Searches;

namespace Iris.Server.Searches;

/// <summary>
/// Search RPCs (CLARIFAI_FACTS.md 7): PostInputsSearches (one hit per input, <c>only_count</c>), PostAnnotationsSearches
/// (one hit per matching annotation, with its input) and the legacy PostSearches (<c>query.ands</c>), all through the one
/// <see cref="SearchPlanner"/>. Pages deeper than <see cref="MaxResultWindow"/> hits are refused with the text the SDK
/// detects.
/// </summary>
internal sealed class SearchesModule(IAppAccess access, SearchPlanner planner, IInputStore inputs, InputMapper mapper, ISavedSearchStore saved, ModelNames names) : IApiModule
{
    /// <summary>The deepest hit a page may reach (page × per_page); Clarifai's limit is not documented, Iris' is this.</summary>
    public const int MaxResultWindow = 10_000;

    public void Register(HandlerRegistry registry)
    {
        registry.Add<PostInputsSearchesRequest, MultiSearchResponse>(nameof(V2.V2Base.PostInputsSearches), PostInputsSearchesAsync);
        registry.Add<PostAnnotationsSearchesRequest, MultiSearchResponse>(nameof(V2.V2Base.PostAnnotationsSearches), PostAnnotationsSearchesAsync);
        registry.Add<PostSearchesRequest, MultiSearchResponse>(nameof(V2.V2Base.PostSearches), PostSearchesAsync);
        registry.Add<PostSearchesByIDRequest, MultiSearchResponse>(nameof(V2.V2Base.PostSearchesByID), PostSearchesByIdAsync);
        registry.Add<GetSearchRequest, SingleSearchResponse>(nameof(V2.V2Base.GetSearch), GetSearchAsync);
        registry.Add<ListSearchesRequest, MultiSearchResponse>(nameof(V2.V2Base.ListSearches), ListSearchesAsync);
        registry.Add<PatchSearchesRequest, MultiSearchResponse>(nameof(V2.V2Base.PatchSearches), PatchSearchesAsync);
        registry.Add<DeleteSearchRequest, BaseResponse>(nameof(V2.V2Base.DeleteSearch), DeleteSearchAsync);
    }

    /// <summary>Saved searches per PostSearches / PatchSearches request.</summary>
    public const int MaxSearchesPerRequest = 128;

    private async ValueTask<MultiSearchResponse> PostInputsSearchesAsync(PostInputsSearchesRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var search = Single(request.Searches);
        return await InputHitsAsync(app, search, request.Pagination, request.OnlyCount, context.CancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<MultiSearchResponse> PostAnnotationsSearchesAsync(PostAnnotationsSearchesRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        var search = Single(request.Searches);
        var page = ReadPage(request.Pagination);
        var query = SearchMapping.ToQuery(search);

        // Annotation fields of the filters also choose which annotations of a matching input are hits: every one must
        // hold. A filter by model_version_id makes the hits model annotations of that version (ModelAnnotations).
        var wanted = query.Conditions.OfType<InputCondition.Annotation>().Where(c => !c.Negate).ToList();
        var models = query.Conditions.OfType<InputCondition.ModelOutput>().Where(c => !c.Negate).ToList();
        var needed = (int)(page.Offset + page.Size);
        var inputLimit = needed;
        while (true)
        {
            // Pages are exact: every candidate is scored exactly (no approximate index top-k, whose set depends on how
            // many hits are asked for), so inputs come in one total order (score, then newest first) whatever the page,
            // and an input's annotations in theirs (creation time, then id). Page N + 1 continues page N: no duplicates,
            // no gaps. The cost is a scan of the app's candidates per page (one float dot product per candidate).
            var result = await planner.RunAsync(app, query, inputLimit, exactTotal: true, ct).ConfigureAwait(false);
            var ids = result.Hits.Select(h => h.InputId).ToList();
            var of = new AnnotationQuery([], ids, [], [])
            {
                Users = models.Count == 0,
                ModelVersions = models.Count == 0 ? null : [.. models.Select(m => m.ModelVersionId).Distinct(StringComparer.Ordinal)],
            };
            var annotations = ids.Count == 0 ? [] : await inputs.ListAnnotationsAsync(app, of, 1, int.MaxValue, ct).ConfigureAwait(false);
            var byInput = annotations.Where(a => wanted.All(w => Matches(w, a)) && models.All(m => Matches(m, a))).ToLookup(a => a.InputId, StringComparer.Ordinal);
            var hits = result.Hits.SelectMany(h => byInput[h.InputId].OrderBy(a => a.CreatedAt).ThenBy(a => a.Id, StringComparer.Ordinal).Select(a => (Hit: h, Annotation: a))).ToList();
            if (hits.Count >= needed || result.Hits.Count < inputLimit)
            {
                var pageHits = page.Of(hits).ToList();
                var response = Respond(search);
                var hydrated = await HydrateAsync(app, pageHits.Select(h => h.Hit.InputId).Distinct(StringComparer.Ordinal).ToList(), ct).ConfigureAwait(false);
                foreach (var (hit, annotation) in pageHits)
                {
                    if (hydrated.TryGetValue(hit.InputId, out var input))
                    {
                        response.Hits.Add(new Hit { Score = hit.Score, Input = input, Annotation = InputMapper.ToAnnotation(app, annotation, names), UserId = app.UserId, AppId = app.AppId });
                    }
                }

                return response;
            }

            inputLimit = inputLimit > int.MaxValue / 4 ? int.MaxValue : inputLimit * 4;
        }
    }

    private async ValueTask<MultiSearchResponse> PostSearchesAsync(PostSearchesRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
#pragma warning disable CS0612 // PostSearches' top-level query is deprecated; the legacy clients send it.
        var legacy = request.Query;
#pragma warning restore CS0612
        SearchMessage search;
        if (legacy is not null && request.Searches.Count > 0)
        {
            throw new IrisException(StatusCode.SearchInvalidRequest, "Send either query or searches, not both.");
        }

        if (legacy is not null)
        {
            search = new SearchMessage { Query = legacy };
        }
        else if (request.Searches.Count > 0 && request.Searches.All(s => s.Save))
        {
            return await SaveAsync(context, request.UserAppId, request.Searches).ConfigureAwait(false);
        }
        else
        {
            search = Single(request.Searches);
            if (search.Save)
            {
                throw new IrisException(StatusCode.SearchInvalidRequest, "Either every search of the request is saved (save: true) or one search is run.");
            }
        }

        return await InputHitsAsync(app, search, request.Pagination, onlyCount: false, context.CancellationToken).ConfigureAwait(false);
    }

    // Saved searches (CLARIFAI_FACTS.md 7.2): PostSearches with save stores without running; PostSearchesByID runs.

    private async Task<MultiSearchResponse> SaveAsync(CallContext context, UserAppIDSet? ids, IReadOnlyList<SearchMessage> searches)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, ids, AppAccessKind.Write, ct).ConfigureAwait(false);
        CheckCount(searches.Count);
        var now = InputMapper.Time(DateTimeOffset.UtcNow);
        var stored = new List<SearchMessage>();
        foreach (var search in searches)
        {
            var copy = search.Clone();
            if (copy.Id.Length == 0)
            {
                copy.Id = InputMapper.NewId();
            }

            Ids.Require("Search id", copy.Id, IdKind.Resource, StatusCode.SearchInvalidRequest);
            SearchMapping.ToQuery(copy); // a search that could not run is not saved
            copy.Save = true;
            copy.ApplicationId = app.AppId;
            copy.CreatedAt = now;
            copy.ModifiedAt = now;
            stored.Add(copy);
        }

        var duplicates = stored.GroupBy(s => s.Id, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        var taken = duplicates.Count > 0 ? duplicates : await saved.AddAsync(app, [.. stored.Select(s => (s.Id, s.ToByteArray()))], ct).ConfigureAwait(false);
        if (taken.Count > 0)
        {
            throw new IrisException(StatusCode.SavedSearchModifyFailed, $"A saved search with id {string.Join(", ", taken.Select(t => "'" + t + "'"))} already exists in app '{app.AppId}' (or the request names it twice); nothing was saved.");
        }

        var response = new MultiSearchResponse { Status = StatusWriter.Ok() };
        response.Searches.Add(stored);
        return response;
    }

    private async ValueTask<MultiSearchResponse> PostSearchesByIdAsync(PostSearchesByIDRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var search = await FindSavedAsync(app, request.Id, context.CancellationToken).ConfigureAwait(false);
        return await InputHitsAsync(app, search, request.Pagination, onlyCount: false, context.CancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<SingleSearchResponse> GetSearchAsync(GetSearchRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        return new SingleSearchResponse { Status = StatusWriter.Ok(), Search = await FindSavedAsync(app, request.Id, context.CancellationToken).ConfigureAwait(false) };
    }

    private async ValueTask<MultiSearchResponse> ListSearchesAsync(ListSearchesRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var page = Paging.Read(request.Page, request.PerPage);
        var rows = await saved.ListAsync(app, page.Number, page.Size, context.CancellationToken).ConfigureAwait(false);
        var response = new MultiSearchResponse { Status = StatusWriter.Ok() };
        response.Searches.Add(rows.Select(r => SearchMessage.Parser.ParseFrom(r.Body)));
        return response;
    }

    /// <summary>
    /// <c>overwrite</c> replaces a saved search with the one sent (keeping its creation time); <c>merge</c> (the default)
    /// takes the fields the patch sets: name, query, algorithm, metric, min_value.
    /// </summary>
    private async ValueTask<MultiSearchResponse> PatchSearchesAsync(PatchSearchesRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        var action = request.Action.Length == 0 ? "merge" : request.Action;
        if (action is not ("merge" or "overwrite"))
        {
            throw new IrisException(StatusCode.SearchInvalidRequest, $"action must be 'merge' or 'overwrite'; got '{request.Action}'.");
        }

        CheckCount(request.Searches.Count);
        var now = InputMapper.Time(DateTimeOffset.UtcNow);
        var patched = new List<SearchMessage>();
        foreach (var patch in request.Searches)
        {
            var current = await FindSavedAsync(app, patch.Id, ct).ConfigureAwait(false);
            var next = action == "overwrite" ? patch.Clone() : current.Clone();
            if (action == "merge")
            {
                next.Name = patch.Name.Length > 0 ? patch.Name : next.Name;
                next.Query = patch.Query ?? next.Query;
                next.Algorithm = patch.Algorithm.Length > 0 ? patch.Algorithm : next.Algorithm;
                next.Metric = patch.Metric != SearchMessage.Types.Metric.NotSet ? patch.Metric : next.Metric;
                next.MinValue = patch.MinValue != 0 ? patch.MinValue : next.MinValue;
            }

            SearchMapping.ToQuery(next);
            (next.Save, next.ApplicationId, next.CreatedAt, next.ModifiedAt) = (true, app.AppId, current.CreatedAt, now);
            patched.Add(next);
        }

        var missing = await saved.UpdateAsync(app, [.. patched.Select(s => (s.Id, s.ToByteArray()))], ct).ConfigureAwait(false);
        if (missing.Count > 0)
        {
            throw new IrisException(StatusCode.SavedSearchModifyFailed, $"Saved search '{missing[0]}' was deleted while it was patched; nothing was changed.");
        }

        var response = new MultiSearchResponse { Status = StatusWriter.Ok() };
        response.Searches.Add(patched);
        return response;
    }

    private async ValueTask<BaseResponse> DeleteSearchAsync(DeleteSearchRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, context.CancellationToken).ConfigureAwait(false);
        if (!await saved.DeleteAsync(app, request.Id, context.CancellationToken).ConfigureAwait(false))
        {
            throw SavedNotFound(app, request.Id);
        }

        return new BaseResponse { Status = StatusWriter.Ok() };
    }

    private async Task<SearchMessage> FindSavedAsync(AppRef app, string id, CancellationToken ct)
    {
        var row = await saved.GetAsync(app, id, ct).ConfigureAwait(false) ?? throw SavedNotFound(app, id);
        return SearchMessage.Parser.ParseFrom(row.Body);
    }

    private static IrisException SavedNotFound(AppRef app, string id) =>
        new(StatusCode.ConnDoesNotExist, id.Length == 0 ? "Give the id of a saved search." : $"Saved search '{id}' does not exist in app '{app.AppId}'.");

    private static void CheckCount(int count)
    {
        if (count is 0 or > MaxSearchesPerRequest)
        {
            throw new IrisException(StatusCode.SearchInvalidRequest, $"searches must hold 1 to {MaxSearchesPerRequest} searches; got {count}.");
        }
    }

    private async Task<MultiSearchResponse> InputHitsAsync(AppRef app, SearchMessage search, Pagination? pagination, bool onlyCount, CancellationToken ct)
    {
        var page = ReadPage(pagination);
        var query = SearchMapping.ToQuery(search);
        var result = await planner.RunAsync(app, query, onlyCount ? 0 : (int)(page.Offset + page.Size), onlyCount, ct).ConfigureAwait(false);
        var response = Respond(search);
        if (onlyCount)
        {
            response.HitCounts.Add(new HitCount { EstimatedTotal = (ulong)result.Total });
            return response;
        }

        var pageHits = page.Of(result.Hits).ToList();
        var hydrated = await HydrateAsync(app, [.. pageHits.Select(h => h.InputId)], ct).ConfigureAwait(false);
        foreach (var hit in pageHits)
        {
            if (hydrated.TryGetValue(hit.InputId, out var input))
            {
                response.Hits.Add(new Hit { Score = hit.Score, Input = input, UserId = app.UserId, AppId = app.AppId });
            }
        }

        return response;
    }

    private static bool Matches(InputCondition.Annotation wanted, AnnotationRow row) =>
        (wanted.Id is null || string.Equals(wanted.Id, row.Id, StringComparison.Ordinal))
        && (wanted.InputLevel is null || wanted.InputLevel == row.InputLevel)
        && (wanted.UserId is null || string.Equals(wanted.UserId, row.Author, StringComparison.Ordinal))
        && (wanted.StatusCode is null || wanted.StatusCode == row.StatusCode);

    private static bool Matches(InputCondition.ModelOutput wanted, AnnotationRow row) =>
        row.Model is { } model && string.Equals(wanted.ModelVersionId, model.ModelVersionId, StringComparison.Ordinal)
        && (wanted.AnnotationId is null || string.Equals(wanted.AnnotationId, row.Id, StringComparison.Ordinal));

    private async Task<Dictionary<string, Input>> HydrateAsync(AppRef app, IReadOnlyList<string> ids, CancellationToken ct)
    {
        var result = new Dictionary<string, Input>(StringComparer.Ordinal);
        if (ids.Count == 0)
        {
            return result;
        }

        // Inputs deleted since the plan ran are not returned (ListInputs hides inputs being deleted).
        var rows = await inputs.ListInputsAsync(app, 1, ids.Count, null, ids, ct).ConfigureAwait(false);
        var levels = await inputs.InputLevelAnnotationsAsync(app, ids, ct).ConfigureAwait(false);
        foreach (var row in rows)
        {
            result[row.Id] = mapper.ToInput(app, row, levels.GetValueOrDefault(row.Id));
        }

        return result;
    }

    private static MultiSearchResponse Respond(SearchMessage search)
    {
        var response = new MultiSearchResponse { Status = StatusWriter.Ok(), Id = search.Id.Length > 0 ? search.Id : InputMapper.NewId(), Query = search.Query };
        response.Searches.Add(search);
        return response;
    }

    private static SearchMessage Single(IReadOnlyList<SearchMessage> searches) => searches.Count switch
    {
        0 => throw new IrisException(StatusCode.SearchInvalidRequest, "searches must hold one search (with its query)."),
        1 => searches[0],
        _ => throw new IrisException(StatusCode.SearchInvalidRequest, $"Iris runs one search per request; got {searches.Count} in searches."),
    };

    /// <summary>The paging rule of every RPC, and the deep-page refusal whose text the SDK matches (CLARIFAI_FACTS.md 7.1).</summary>
    private static Page ReadPage(Pagination? pagination)
    {
        var page = Paging.Read(pagination?.Page ?? 0, pagination?.PerPage ?? 0);
        if (page.Offset + page.Size > MaxResultWindow)
        {
            throw new IrisException(StatusCode.SearchInvalidRequest,
                $"page * perPage cannot exceed {MaxResultWindow}; got page {page.Number} * perPage {page.Size} = {page.Offset + page.Size}. Narrow the search with filters instead of paging deeper.");
        }

        return page;
    }
}
