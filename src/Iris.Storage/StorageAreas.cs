using Iris.Storage.Db;
using Iris.Storage.Identity;
using Iris.Storage.Inputs;
using Iris.Storage.Models;
using Iris.Storage.Searches;
using Iris.Storage.Vectors;
using Iris.Storage.Workflows;

namespace Iris.Storage;

/// <summary>Every area's migrations, in one list: the server and the CLI migrate the same schema.</summary>
public static class StorageAreas
{
    /// <summary>In the order they are applied: the inputs area owns the job queue (<c>work_queue</c>), which identity's jobs use.</summary>
    public static IReadOnlyList<IMigrationSet> Migrations { get; } = [new InputsMigrations(), new IdentityMigrations(), new InputIndexMigrations(), new ModelsMigrations(), new WorkflowsMigrations(), new SearchesMigrations()];
}
