using Clarifai.Api;
using Clarifai.Api.Status;

namespace Iris.Server.Models;

/// <summary>The ListModels filters and sorts of CLARIFAI_FACTS.md 5.3, on the wire view of users' models and the built-ins alike.</summary>
internal static class ModelListing
{
    public static bool Matches(Model m, ListModelsRequest r)
    {
        if (r.ModelTypeId.Length > 0 && !string.Equals(ModelTypes.Canonical(r.ModelTypeId), ModelTypes.Canonical(m.ModelTypeId), StringComparison.Ordinal))
        {
            return false;
        }

        var type = ModelTypes.Find(m.ModelTypeId);
        if ((r.InputFields.Count > 0 || r.OutputFields.Count > 0) && type is null)
        {
            return false;
        }

        if (r.InputFields.Any(f => !type!.InputFields.Contains(f)) || r.OutputFields.Any(f => !type!.OutputFields.Contains(f)))
        {
            return false;
        }

        if (r.TrainedOnly && m.ModelVersion?.Status?.Code != StatusCode.ModelTrained)
        {
            return false;
        }

        var license = m.ModelVersion?.License ?? string.Empty;
        if (r.License.Length > 0 && !string.Equals(r.License, license, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (r.FeaturedOnly || r.StarredOnly || r.Bookmark || r.MinReplicas > 0)
        {
            return false;
        }

        if (r.Toolkits.Any(t => !m.Toolkits.Contains(t)) || r.UseCases.Any(u => !m.UseCases.Contains(u)) || r.Languages.Any(l => !m.Languages.Contains(l)))
        {
            return false;
        }

        if (r.ModelVersionIds.Count > 0 && !r.ModelVersionIds.Contains(m.ModelVersion?.Id ?? string.Empty))
        {
            return false;
        }

        if (r.LicenseType != LicenseType.UnknownLicenseType && r.LicenseType != m.LicenseType)
        {
            return false;
        }

        if (r.Source != 0 && r.Source != (uint)m.Source)
        {
            return false;
        }

        if (r.Creator.Length > 0 && !string.Equals(r.Creator, m.Creator, StringComparison.Ordinal))
        {
            return false;
        }

        if (r.Visibility is { Gettable: not Visibility.Types.Gettable.UnknownVisibility } v && v.Gettable != (m.Visibility?.Gettable ?? Visibility.Types.Gettable.Private))
        {
            return false;
        }

#pragma warning disable CS0612 // query and name are the deprecated spellings of search; old clients still send them. Model.name likewise.
        var search = r.Search.Length > 0 ? r.Search : r.Query.Length > 0 ? r.Query : r.Name;
        if (search.Length > 0)
        {
            var words = search.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var haystack = string.Join(' ', m.Id, m.Name, m.Description, m.Notes, m.UserId);
            return words.All(w => haystack.Contains(w, StringComparison.OrdinalIgnoreCase));
        }
#pragma warning restore CS0612

        return true;
    }

    /// <summary>PostModelsSearches: <c>name</c> matches id or name case-insensitively, <c>*</c> standing for any run of characters; <c>model_type_id</c> (or its alias) exactly.</summary>
    public static bool MatchesQuery(Model m, ModelQuery q)
    {
        if (q.ModelTypeId.Length > 0 && !string.Equals(ModelTypes.Canonical(q.ModelTypeId), ModelTypes.Canonical(m.ModelTypeId), StringComparison.Ordinal))
        {
            return false;
        }

        if (q.Name.Length == 0)
        {
            return true;
        }

        var pattern = "^" + string.Join(".*", q.Name.Split('*').Select(System.Text.RegularExpressions.Regex.Escape)) + "$";
#pragma warning disable CS0612 // Model.name is deprecated but still what the legacy search matches.
        return new[] { m.Id, m.Name }.Any(s => System.Text.RegularExpressions.Regex.IsMatch(s, pattern, System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100)));
#pragma warning restore CS0612
    }

    /// <summary>Newest modification first by default; the other sorts as asked, ties by id.</summary>
    public static IEnumerable<Model> Sort(IEnumerable<Model> models, ListModelsRequest r)
    {
#pragma warning disable CS0612 // Model.name is deprecated but still what sort_by_name orders by.
        IOrderedEnumerable<Model> ordered = r.SortByCase switch
        {
            ListModelsRequest.SortByOneofCase.SortByName => r.SortAscending || !r.SortByName
                ? models.OrderBy(m => m.Name, StringComparer.OrdinalIgnoreCase)
                : models.OrderByDescending(m => m.Name, StringComparer.OrdinalIgnoreCase),
            ListModelsRequest.SortByOneofCase.SortByCreatedAt => r.SortAscending ? models.OrderBy(m => m.CreatedAt) : models.OrderByDescending(m => m.CreatedAt),
            _ => r.SortAscending ? models.OrderBy(m => m.ModifiedAt) : models.OrderByDescending(m => m.ModifiedAt),
        };
#pragma warning restore CS0612
        return ordered.ThenBy(m => m.Id, StringComparer.Ordinal);
    }
}
