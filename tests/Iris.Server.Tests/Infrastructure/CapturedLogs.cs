using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Iris.Server.Tests.Infrastructure;

/// <summary>Captures the server's log; a test fails when the server logged an error the test did not expect.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<(LogLevel Level, string Category, string Message, Exception? Exception)> _entries = new();

    public IReadOnlyList<string> Errors =>
        _entries.Where(e => e.Level >= LogLevel.Error).Select(e => $"{e.Category}: {e.Message} {e.Exception}").ToArray();

    public IReadOnlyList<string> Messages => _entries.Select(e => e.Message).ToArray();

    /// <summary>Entries logged with an exception (a stack trace), at any level.</summary>
    public IReadOnlyList<string> WithExceptions =>
        _entries.Where(e => e.Exception is not null).Select(e => $"{e.Level} {e.Category}: {e.Message}").ToArray();

    public void Clear() => _entries.Clear();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                owner._entries.Enqueue((logLevel, category, formatter(state, exception), exception));
            }
        }
    }
}
