using Iris.Storage.Identity;
using Clarifai.Api;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Server.Validation;

namespace Iris.Server.Identity;

/// <summary>Identity records ↔ wire messages, id rules: the one place where field-level compatibility lives.</summary>
internal static partial class IdentityMapping
{
    /// <summary>The current time at the store's precision (milliseconds), so a created record reads back exactly as returned.</summary>
    public static DateTimeOffset Now(TimeProvider time) => DateTimeOffset.FromUnixTimeMilliseconds(time.GetUtcNow().ToUnixTimeMilliseconds());

    public static App ToProto(AppRecord app)
    {
        var proto = new App
        {
            Id = app.Id,
            Name = app.Name,
            UserId = app.UserId,
            Description = app.Description,
            Notes = app.Notes,
            DefaultLanguage = app.DefaultLanguage,
            CreatedAt = Timestamp.FromDateTimeOffset(app.CreatedAt),
            ModifiedAt = Timestamp.FromDateTimeOffset(app.ModifiedAt),
            Visibility = new Visibility { Gettable = (Visibility.Types.Gettable)app.Visibility },
            SampleMs = app.SampleMs,
            IsTemplate = app.IsTemplate ? true : null,
        };
        if (app.DefaultWorkflowId.Length > 0)
        {
#pragma warning disable CS0612 // default_workflow_id is deprecated on the wire but still read by clients.
            proto.DefaultWorkflowId = app.DefaultWorkflowId;
#pragma warning restore CS0612
            // Base workflows are public workflows of clarifai/main, named as the SDK names them when it creates an app.
            proto.DefaultWorkflow = new Workflow { Id = app.DefaultWorkflowId, AppId = AppRef.ClarifaiMain.AppId, UserId = AppRef.ClarifaiMain.UserId };
        }

        if (app.MetadataJson.Length > 0)
        {
            proto.Metadata = JsonParser.Default.Parse<Struct>(app.MetadataJson);
        }

        return proto;
    }

    public static Key ToProto(KeyRecord key, string? secret = null)
    {
        var proto = new Key
        {
            Id = secret ?? key.Id,
            Type = key.Type,
            Description = key.Description,
            CreatedAt = Timestamp.FromDateTimeOffset(key.CreatedAt),
        };
        proto.Scopes.AddRange(key.Scopes);
        proto.Endpoints.AddRange(key.Endpoints.Select(e => ScopeCatalog.EndpointPrefix + e));
        if (key.AppId is not null)
        {
            proto.Apps.Add(new App { Id = key.AppId, UserId = key.UserId });
        }

        if (key.ExpiresAt is { } expires)
        {
            proto.ExpiresAt = Timestamp.FromDateTimeOffset(expires);
        }

        return proto;
    }

    public static User ToProto(UserRecord user, bool self)
    {
        var proto = new User
        {
            Id = user.Id,
            FirstName = user.FirstName,
            LastName = user.LastName,
            CompanyName = user.CompanyName,
            CreatedAt = Timestamp.FromDateTimeOffset(user.CreatedAt),
            Visibility = new Visibility { Gettable = (Visibility.Types.Gettable)user.Visibility },
        };
        if (self)
        {
            proto.UserDetail = new UserDetail { PrimaryEmail = user.PrimaryEmail };
        }

        return proto;
    }

    public static Collaborator ToProto(CollaboratorRecord c, AppRecord? app, UserRecord? user)
    {
        var proto = new Collaborator
        {
            Id = c.Id,
            App = app is null ? new App { Id = c.App.AppId, UserId = c.App.UserId } : ToProto(app),
            User = user is null ? new User { Id = c.UserId } : ToProto(user, self: false),
            CreatedAt = Timestamp.FromDateTimeOffset(c.CreatedAt),
            ModifiedAt = Timestamp.FromDateTimeOffset(c.ModifiedAt),
        };
        proto.Scopes.AddRange(c.Scopes);
        proto.Endpoints.AddRange(c.Endpoints.Select(e => ScopeCatalog.EndpointPrefix + e));
        return proto;
    }

    /// <summary>App ids (and user ids): the owner rule of <see cref="Ids"/>; 11102 when broken.</summary>
    public static void ValidateId(string kind, string id) => Ids.Require($"{kind} id", id, IdKind.Owner, Clarifai.Api.Status.StatusCode.ConnInvalidRequest);

    /// <summary>Validated scope names, de-duplicated in the given order.</summary>
    public static List<string> ValidateScopes(IEnumerable<string> scopes)
    {
        var result = new List<string>();
        foreach (var name in scopes)
        {
            if (!ScopeCatalog.TryParse(name, out _))
            {
                throw IrisException.InvalidRequest($"Unknown scope '{name}'. ListScopes lists the scopes.");
            }

            if (!result.Contains(name, StringComparer.Ordinal))
            {
                result.Add(name);
            }
        }

        return result;
    }

    /// <summary>Validated endpoints as RPC names, de-duplicated.</summary>
    public static List<string> ValidateEndpoints(IEnumerable<string> endpoints)
    {
        var result = new List<string>();
        foreach (var endpoint in endpoints)
        {
            var rpc = ScopeCatalog.ParseEndpoint(endpoint) ?? throw IrisException.InvalidRequest(
                $"Unknown endpoint '{endpoint}': name an RPC of clarifai.api.V2, e.g. {ScopeCatalog.EndpointPrefix}PostModelOutputs.");
            if (!result.Contains(rpc, StringComparer.Ordinal))
            {
                result.Add(rpc);
            }
        }

        return result;
    }

    /// <summary>Merges or overwrites a list by <paramref name="action"/> (<c>overwrite</c>, <c>merge</c>, <c>remove</c>).</summary>
    public static List<string> PatchList(IReadOnlyList<string> current, List<string> given, string action) => action switch
    {
        "overwrite" => given,
        "merge" => current.Concat(given).Distinct(StringComparer.Ordinal).ToList(),
        "remove" => current.Where(c => !given.Contains(c, StringComparer.Ordinal)).ToList(),
        _ => throw IrisException.InvalidRequest($"action '{action}' is not supported: use overwrite, merge or remove."),
    };
}
