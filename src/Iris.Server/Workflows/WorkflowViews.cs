using System.Security.Cryptography;
using System.Text;
using Clarifai.Api;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Inference.Workflows;
using Iris.Storage.Db;
using Iris.Storage.Identity;
using Iris.Storage.Workflows;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Workflows;

/// <summary>How workflows and their versions appear on the wire (CLARIFAI_FACTS.md 6.4), stored or built in.</summary>
internal static class WorkflowViews
{
    /// <summary>Creation time of the built-in workflows: fixed, so responses are stable across restarts.</summary>
    private static readonly DateTimeOffset BuiltinCreated = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly JsonFormatter NodesFormatter = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true));

    public static Workflow Stored(StoredWorkflow stored)
    {
        var (w, v) = stored;
        var workflow = new Workflow
        {
            Id = w.Id,
            AppId = w.App.AppId,
            UserId = w.App.UserId,
            CreatedAt = Time(w.CreatedUs),
            ModifiedAt = Time(w.ModifiedUs),
            Visibility = new Visibility { Gettable = (Visibility.Types.Gettable)w.Visibility },
            Description = w.Description,
            Notes = w.Notes,
            Version = Version(w.App, v),
        };
        workflow.Nodes.AddRange(Nodes(v.NodesJson));
        workflow.UseCases.AddRange(w.UseCases);
        if (w.MetadataJson.Length > 0)
        {
            workflow.Metadata = JsonParser.Default.Parse<Struct>(w.MetadataJson);
        }

        return workflow;
    }

    public static WorkflowVersion Version(AppRef app, WorkflowVersionRecord v)
    {
        var version = new WorkflowVersion
        {
            Id = v.Id,
            WorkflowId = v.WorkflowId,
            AppId = app.AppId,
            UserId = app.UserId,
            CreatedAt = Time(v.CreatedUs),
            ModifiedAt = Time(v.ModifiedUs),
            Visibility = new Visibility { Gettable = (Visibility.Types.Gettable)v.Visibility },
            Description = v.Description,
            License = v.License,
        };
        version.Nodes.AddRange(Nodes(v.NodesJson));
        if (v.MetadataJson.Length > 0)
        {
            version.Metadata = JsonParser.Default.Parse<Struct>(v.MetadataJson);
        }

        return version;
    }

    public static Workflow Builtin(BuiltinWorkflow b)
    {
        var workflow = new Workflow
        {
            Id = b.Id,
            AppId = AppRef.ClarifaiMain.AppId,
            UserId = AppRef.ClarifaiMain.UserId,
            CreatedAt = Timestamp.FromDateTimeOffset(BuiltinCreated),
            ModifiedAt = Timestamp.FromDateTimeOffset(BuiltinCreated),
            Visibility = new Visibility { Gettable = Visibility.Types.Gettable.Public },
            Description = b.Description,
            Notes = b.Notes,
            Version = BuiltinVersion(b),
        };
        workflow.Nodes.AddRange(b.Nodes.Select(n => n.Clone()));
        return workflow;
    }

    public static WorkflowVersion BuiltinVersion(BuiltinWorkflow b)
    {
        var version = new WorkflowVersion
        {
            Id = BuiltinVersionId(b),
            WorkflowId = b.Id,
            AppId = AppRef.ClarifaiMain.AppId,
            UserId = AppRef.ClarifaiMain.UserId,
            CreatedAt = Timestamp.FromDateTimeOffset(BuiltinCreated),
            ModifiedAt = Timestamp.FromDateTimeOffset(BuiltinCreated),
            Visibility = new Visibility { Gettable = Visibility.Types.Gettable.Public },
            Description = b.Description,
            License = "MIT",
        };
        version.Nodes.AddRange(b.Nodes.Select(n => n.Clone()));
        return version;
    }

    /// <summary>32 hex, fixed by the workflow's id and its nodes' model versions: the same on every machine and restart.</summary>
    public static string BuiltinVersionId(BuiltinWorkflow b)
    {
        var text = "iris-workflow-version:" + b.Id + ":" + string.Join(",", b.Nodes.Select(n => n.Id + "=" + n.Model.Id + "@" + n.Model.ModelVersion?.Id));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)).AsSpan(0, 16));
    }

    /// <summary>The stored form of a graph: <c>{"nodes":[…]}</c> with the API's field names.</summary>
    public static string NodesJson(IEnumerable<WorkflowNode> nodes)
    {
        var holder = new Workflow();
        holder.Nodes.AddRange(nodes);
        return NodesFormatter.Format(holder);
    }

    public static IReadOnlyList<WorkflowNode> Nodes(string json) => json.Length == 0 ? [] : JsonParser.Default.Parse<Workflow>(json).Nodes;

    public static Timestamp Time(long micros) => Timestamp.FromDateTimeOffset(Clock.FromMicros(micros));

    public static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>A <c>visibility.gettable</c> a workflow may take (10, 30, 50); anything else → 22104.</summary>
    public static int VisibilityOf(Visibility? visibility, int current)
    {
        if (visibility is not { Gettable: not Visibility.Types.Gettable.UnknownVisibility } v)
        {
            return current;
        }

        return v.Gettable switch
        {
            Visibility.Types.Gettable.Private or Visibility.Types.Gettable.Org or Visibility.Types.Gettable.Public => (int)v.Gettable,
            _ => throw new IrisException(StatusCode.WorkflowInvalidArgument, $"visibility.gettable {(int)v.Gettable} is not one of 10 (PRIVATE), 30 (ORG), 50 (PUBLIC)."),
        };
    }

    public static int DefaultVisibility => Gettable.Private;

    public static string MetadataJson(Struct? metadata) => metadata is null || metadata.Fields.Count == 0 ? string.Empty : JsonFormatter.Default.Format(metadata);
}
