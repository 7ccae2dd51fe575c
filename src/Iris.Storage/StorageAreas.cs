using Iris.Storage.Db;
using Iris.Storage.Identity;
using Iris.Storage.Inputs;
using Iris.Storage.Vectors;

namespace Iris.Storage;

/// <summary>Every area's migrations, in one list: the server and the CLI migrate the same schema.</summary>
public static class StorageAreas
{
    public static IReadOnlyList<IMigrationSet> Migrations { get; } = [new IdentityMigrations(), new InputsMigrations(), new InputIndexMigrations()];
}
