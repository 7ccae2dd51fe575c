using Clarifai.Api;
using Google.Protobuf.WellKnownTypes;
using Iris.Server.Api;
using Microsoft.Extensions.DependencyInjection;

namespace Iris.Server.Tests.Infrastructure;

/// <summary>
/// An Iris server with two extra handlers that echo what the transport decoded, so tests can see exactly how a REST or
/// gRPC request was bound (body, query, path, <c>me</c>, defaults) and how a rich response is written. They sit on RPCs
/// whose real handlers come with the inference work (PostModelOutputs, ListModels); move them when those land.
/// </summary>
public sealed class EchoFixture : IrisFixture
{
    public static readonly Timestamp FixedTime = Timestamp.FromDateTimeOffset(new DateTimeOffset(2024, 5, 6, 7, 8, 9, 123, TimeSpan.Zero));

    protected override void ConfigureServices(IServiceCollection services) => services.AddSingleton<IApiModule, EchoModule>();

    private sealed class EchoModule : IApiModule
    {
        public void Register(HandlerRegistry registry)
        {
            registry.Add<PostModelOutputsRequest, MultiOutputResponse>(nameof(V2.V2Base.PostModelOutputs), (request, context) =>
            {
                var response = new MultiOutputResponse();
                foreach (var input in request.Inputs)
                {
                    response.Outputs.Add(new Output
                    {
                        Id = "out-" + input.Id,
                        CreatedAt = FixedTime,
                        Model = new Model
                        {
                            Id = request.ModelId,
                            UserId = request.UserAppId?.UserId ?? string.Empty,
                            AppId = request.UserAppId?.AppId ?? string.Empty,
                            ModelVersion = new ModelVersion { Id = request.VersionId },
                        },
                        Input = input,
                        Data = input.Data,
                    });
                }

                return ValueTask.FromResult(response);
            });

            registry.Add<ListModelsRequest, MultiModelResponse>(nameof(V2.V2Base.ListModels), (request, context) =>
            {
                var response = new MultiModelResponse();
                foreach (var useCase in request.UseCases)
                {
                    response.Models.Add(new Model
                    {
                        Id = useCase,
                        UserId = request.UserAppId?.UserId ?? string.Empty,
                        AppId = request.UserAppId?.AppId ?? string.Empty,
                        CreatedAt = FixedTime,
                        Visibility = request.Visibility,
                        Metadata = new Struct
                        {
                            Fields =
                            {
                                ["page"] = Value.ForNumber(request.Page),
                                ["per_page"] = Value.ForNumber(request.PerPage),
                                ["sort_by_name"] = Value.ForBool(request.SortByName),
                                ["license_type"] = Value.ForNumber((int)request.LicenseType),
                                ["caller"] = Value.ForString(context.Principal?.UserId ?? string.Empty),
                            },
                        },
                    });
                }

                return ValueTask.FromResult(response);
            });
        }
    }
}
