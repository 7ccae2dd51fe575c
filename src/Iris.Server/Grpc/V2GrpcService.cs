namespace Iris.Server.Grpc;

/// <summary>
/// The gRPC face of service <c>clarifai.api.V2</c>. It has no methods of its own: <see cref="V2MethodProvider"/> binds
/// every RPC of the descriptor to <see cref="Api.ApiInvoker"/>, so gRPC and REST run the same handlers.
/// </summary>
public sealed class V2GrpcService;
