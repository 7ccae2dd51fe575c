namespace Iris.Testing;

/// <summary>
/// Where the tests keep converted model files: the shared models cache <c>IRIS_MODELS_DIR</c> when set (run-tests sets it
/// for the whole run, so every test server reuses one conversion), else one directory under the system temp directory.
/// </summary>
public static class TestModels
{
    public static string Dir =>
        Environment.GetEnvironmentVariable("IRIS_MODELS_DIR") is { Length: > 0 } dir ? dir : Path.Combine(Path.GetTempPath(), "iris-test-models");
}
