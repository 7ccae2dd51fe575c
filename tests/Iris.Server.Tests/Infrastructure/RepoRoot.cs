namespace Iris.Server.Tests.Infrastructure;

/// <summary>The repository root, found by walking up from the test binaries to Iris.slnx.</summary>
public static class RepoRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Iris.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Iris.slnx not found above " + AppContext.BaseDirectory);
    }
}
