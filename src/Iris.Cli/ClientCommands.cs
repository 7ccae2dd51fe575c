using System.CommandLine;

namespace Iris.Cli;

/// <summary>The commands that talk to a running Iris over gRPC.</summary>
internal static class ClientCommands
{
    public static IEnumerable<Command> Build() => [];
}

/// <summary>A Clarifai status other than success, as the server answered it.</summary>
internal sealed class ClarifaiStatusException(string message) : Exception(message);
