using Clarifai.Api;
using Clarifai.Api.Status;
using Google.Protobuf.WellKnownTypes;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Storage.Db;
using Iris.Storage.Models;
using Status = Clarifai.Api.Status.Status;

namespace Iris.Server.Models;

/// <summary>How users' stored models and versions appear on the wire (the built-ins have <see cref="ModelViews"/>).</summary>
internal static class UserModelViews
{
    /// <summary>The model as GetModel / ListModels return it, with <paramref name="version"/> (the latest, or the one asked for) as <c>model_version</c>.</summary>
    public static Model Model(AppRef app, ModelRow row, ModelVersionRow? version, int versionCount, bool withConcepts)
    {
        var model = Clarifai.Api.Model.Parser.ParseFrom(row.Body);
        model.Id = row.Id;
        model.AppId = app.AppId;
        model.UserId = app.UserId;
        model.ModelTypeId = row.TypeId;
        model.CreatedAt = Timestamp.FromDateTimeOffset(Clock.FromMicros(row.CreatedAt));
        model.ModifiedAt = Timestamp.FromDateTimeOffset(Clock.FromMicros(row.ModifiedAt));
        model.Visibility ??= new Visibility { Gettable = Visibility.Types.Gettable.Private };
        model.VersionCount = versionCount;
        model.Creator = app.UserId;
        model.WorkflowRecommended ??= false;
#pragma warning disable CS0612 // Model.output_info is deprecated: older clients (the legacy JS client) still read concepts there.
        var defaults = model.OutputInfo;
        model.OutputInfo = null;
        if (version is not null)
        {
            model.ModelVersion = Version(app, version, withConcepts);
            if (withConcepts)
            {
                model.OutputInfo = model.ModelVersion.OutputInfo?.Clone();
            }
        }
        else if (withConcepts && defaults is not null)
        {
            model.OutputInfo = defaults;
        }
#pragma warning restore CS0612

        return model;
    }

    /// <summary>The model inside a predict output: ids, name, dates, type and a short version (seed 002, 2023-01-04).</summary>
    public static ModelVersion Version(AppRef app, ModelVersionRow row, bool withConcepts)
    {
        var version = ModelVersion.Parser.ParseFrom(row.Body);
        version.Id = row.Id;
        version.AppId = app.AppId;
        version.UserId = app.UserId;
        version.CreatedAt = Timestamp.FromDateTimeOffset(Clock.FromMicros(row.CreatedAt));
        version.ModifiedAt = Timestamp.FromDateTimeOffset(Clock.FromMicros(row.ModifiedAt));
        if (row.CompletedAt > 0)
        {
            version.CompletedAt = Timestamp.FromDateTimeOffset(Clock.FromMicros(row.CompletedAt));
        }

        version.Status = StatusOf(row);
        version.Visibility ??= new Visibility { Gettable = Visibility.Types.Gettable.Private };
        version.ActiveConceptCount = (uint)(version.OutputInfo?.Data?.Concepts.Count ?? 0);
        if (row.TrainSet is not null)
        {
            version.TotalInputCount = (uint)TrainingLabels.Decode(row.TrainSet).Select(l => l.InputId).Distinct(StringComparer.Ordinal).Count();
        }

        if (!withConcepts && version.OutputInfo is { Data.Concepts.Count: > 0 } info)
        {
            info.Data = null;
            info.Message = $"Show output_info with: GET /models/{row.ModelId}/output_info";
        }

        return version;
    }

    public static Status StatusOf(ModelVersionRow row) => new()
    {
        Code = (StatusCode)row.StatusCode,
        Description = StatusCatalog.Describe((StatusCode)row.StatusCode),
        Details = row.StatusDetails,
    };

    /// <summary>The parts of a model a client may set (PostModels, PatchModels); everything else is the server's.</summary>
    public static Model Settable(Model source)
    {
#pragma warning disable CS0612 // name, display_name and output_info are deprecated; older clients still send them.
        var model = new Model
        {
            Name = source.Name,
            DisplayName = source.DisplayName,
            Description = source.Description,
            Notes = source.Notes,
            Metadata = source.Metadata,
            Visibility = source.Visibility,
            Image = source.Image,
            OutputInfo = source.OutputInfo,
            LicenseType = source.LicenseType,
            WorkflowRecommended = source.WorkflowRecommended,
        };
#pragma warning restore CS0612
        model.Toolkits.AddRange(source.Toolkits);
        model.UseCases.AddRange(source.UseCases);
        model.Languages.AddRange(source.Languages);
        return model;
    }
}
