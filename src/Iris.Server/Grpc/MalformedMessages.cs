using System.Globalization;
using System.Runtime.CompilerServices;
using Google.Protobuf;
using Grpc.Core;
using Iris.Contracts.Descriptors;
using Iris.Core.Errors;
using Microsoft.Extensions.Logging;
using ClarifaiStatus = Clarifai.Api.Status.Status;
using ClarifaiStatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Grpc;

/// <summary>
/// gRPC request messages that do not parse (truncated, invalid UTF-8 in a string, nested past protobuf's recursion
/// limit). The request marshaller catches the parse failure and hands the handler an empty message marked as
/// malformed; the handler answers <c>INVALID_ARGUMENT</c> with the Clarifai status (11100) in the trailers
/// (<c>x-clarifai-status-code</c>, and <c>x-clarifai-status-bin</c>: the serialized <c>clarifai.api.status.Status</c>).
/// Anyone can send such messages, so they are logged at warning level at most once a minute, with a count, and never
/// with a stack trace.
/// </summary>
internal sealed partial class MalformedMessages(ILogger<MalformedMessages> logger, TimeProvider time)
{
    public const string StatusCodeTrailer = "x-clarifai-status-code";
    public const string StatusTrailer = "x-clarifai-status-bin";

    /// <summary>Minimum time between two warnings.</summary>
    public static readonly TimeSpan LogInterval = TimeSpan.FromMinutes(1);

    private static readonly ConditionalWeakTable<IMessage, string> Failures = new();

    private readonly Lock _gate = new();
    private long _lastLogTicks = long.MinValue;
    private int _suppressed;

    /// <summary>The method with a request marshaller that marks unparsable messages instead of throwing.</summary>
    public static Method<TRequest, TResponse> Guarded<TRequest, TResponse>(Method<TRequest, TResponse> method)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>
    {
        var parser = new MessageParser<TRequest>(() => new TRequest());
        var marshaller = Marshallers.Create<TRequest>(
            (message, context) => method.RequestMarshaller.ContextualSerializer(message, context),
            context =>
            {
                try
                {
                    return parser.ParseFrom(context.PayloadAsReadOnlySequence());
                }
                catch (Exception e) when (e is InvalidProtocolBufferException or ArgumentException or InvalidOperationException or IndexOutOfRangeException)
                {
                    var empty = new TRequest();
                    Failures.AddOrUpdate(empty, Describe(e));
                    return empty;
                }
            });
        return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, marshaller, method.ResponseMarshaller);
    }

    /// <summary>The parse failure of <paramref name="request"/>, or null when it parsed.</summary>
    public string? TakeFailure(IMessage request) => Failures.TryGetValue(request, out var reason) ? reason : null;

    /// <summary>The exception the handler throws for a malformed message; logs under the rate limit.</summary>
    public RpcException Refuse(RpcInfo rpc, string reason, string requestId)
    {
        var details = $"The {rpc.RequestType.Name} message could not be parsed: {reason}";
        var status = new ClarifaiStatus
        {
            Code = ClarifaiStatusCode.ConnBadRequestFormat,
            Description = StatusCatalog.Describe(ClarifaiStatusCode.ConnBadRequestFormat),
            Details = details,
            ReqId = requestId,
        };
        var trailers = new Metadata
        {
            { StatusCodeTrailer, ((int)status.Code).ToString(CultureInfo.InvariantCulture) },
            { StatusTrailer, status.ToByteArray() },
        };
        Note(rpc.Name, reason);
        return new RpcException(new global::Grpc.Core.Status(global::Grpc.Core.StatusCode.InvalidArgument, details), trailers);
    }

    private void Note(string rpc, string reason)
    {
        var now = time.GetTimestamp();
        int suppressed;
        lock (_gate)
        {
            if (_lastLogTicks != long.MinValue && time.GetElapsedTime(_lastLogTicks, now) < LogInterval)
            {
                _suppressed++;
                return;
            }

            _lastLogTicks = now;
            suppressed = _suppressed;
            _suppressed = 0;
        }

        LogMalformed(logger, rpc, reason, suppressed);
    }

    private static string Describe(Exception e) => e switch
    {
        InvalidProtocolBufferException when e.Message.Contains("recursion", StringComparison.OrdinalIgnoreCase) =>
            "it nests messages deeper than the protobuf recursion limit.",
        InvalidProtocolBufferException when e.Message.Contains("truncated", StringComparison.OrdinalIgnoreCase) =>
            "it is truncated.",
        ArgumentException => "a string field is not valid UTF-8.",
        _ => "it is not a valid protobuf encoding.",
    };

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning,
        Message = "Refused an unparsable gRPC message for {Rpc} ({Reason}); {Suppressed} more were refused since the last warning")]
    private static partial void LogMalformed(ILogger logger, string rpc, string reason, int suppressed);
}
