using System.Collections.Concurrent;
using Clarifai.Api.Status;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Iris.Core.Errors;
using Status = Clarifai.Api.Status.Status;

namespace Iris.Server.Api;

/// <summary>Reads and writes the <c>status</c> field every V2 response message carries (field 1 by convention).</summary>
internal static class StatusWriter
{
    private static readonly ConcurrentDictionary<MessageDescriptor, FieldDescriptor?> Fields = new();

    public static FieldDescriptor? StatusField(MessageDescriptor response) => Fields.GetOrAdd(response, static d =>
    {
        var field = d.FindFieldByName("status");
        return field is { FieldType: FieldType.Message } && field.MessageType.ClrType == typeof(Status) ? field : null;
    });

    public static Status? Get(IMessage response) => StatusField(response.Descriptor)?.Accessor.GetValue(response) as Status;

    public static void Set(IMessage response, Status status) => StatusField(response.Descriptor)?.Accessor.SetValue(response, status);

    public static Status From(IrisException error) => new()
    {
        Code = error.Code,
        Description = error.Description,
        Details = error.Details,
    };

    public static Status Ok() => new() { Code = StatusCode.Success, Description = StatusCatalog.Describe(StatusCode.Success) };
}
