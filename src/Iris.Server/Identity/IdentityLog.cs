using Microsoft.Extensions.Logging;

namespace Iris.Server.Identity;

/// <summary>Audit events of the identity area (stable ids 3000–3099). Secrets are never logged; keys appear by their public id.</summary>
internal static partial class IdentityLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Key created: {KeyId} ({Type}) for user {UserId}, app '{AppId}', by {Actor}")]
    public static partial void KeyCreated(ILogger logger, string keyId, string type, string userId, string appId, string actor);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Key deleted: {KeyId} of user {UserId}, by {Actor}")]
    public static partial void KeyDeleted(ILogger logger, string keyId, string userId, string actor);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "Denied {Rpc} to user {UserId} (key {KeyId}) on '{Target}': status {Code} (req_id {RequestId})")]
    public static partial void AccessDenied(ILogger logger, string rpc, string userId, string keyId, string target, int code, string requestId);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "App {App} deleted by {Actor}; purging its data in the background")]
    public static partial void AppDeleting(ILogger logger, string app, string actor);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Information, Message = "App {App} purged")]
    public static partial void AppPurged(ILogger logger, string app);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Error, Message = "Purging app {App} failed; it will be retried")]
    public static partial void AppPurgeFailed(ILogger logger, Exception exception, string app);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Error, Message = "Renaming app {From} to {To} failed in a module")]
    public static partial void AppRenameFailed(ILogger logger, Exception exception, string from, string to);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Information, Message = "App {From} renamed to {To} by {Actor}")]
    public static partial void AppRenamed(ILogger logger, string from, string to, string actor);
}
