using Clarifai.Api;
using Google.Protobuf.WellKnownTypes;
using Iris.Server.Api;
using Microsoft.Extensions.DependencyInjection;

namespace Iris.Server.Tests.Infrastructure;

/// <summary>
/// An Iris server with two extra handlers that echo what the transport decoded, so tests can see exactly how a REST or
/// gRPC request was bound (body, query, path, <c>me</c>, defaults) and how a rich response is written. They sit on
/// PostWorkflowResults and ListWorkflows, whose rich messages and many routes exercise the bindings; this server runs
/// them in place of the real workflows module.
/// </summary>
public sealed class EchoFixture : IrisFixture
{
    public static readonly Timestamp FixedTime = Timestamp.FromDateTimeOffset(new DateTimeOffset(2024, 5, 6, 7, 8, 9, 123, TimeSpan.Zero));

    protected override void ConfigureServices(IServiceCollection services)
    {
        foreach (var real in services.Where(d => d.ServiceType == typeof(IApiModule) && d.ImplementationType?.Name == "WorkflowsModule").ToList())
        {
            services.Remove(real);
        }

        services.AddSingleton<IApiModule, EchoModule>();
    }

    private sealed class EchoModule : IApiModule
    {
        public void Register(HandlerRegistry registry)
        {
            registry.Add<PostWorkflowResultsRequest, PostWorkflowResultsResponse>(nameof(V2.V2Base.PostWorkflowResults), (request, context) =>
            {
                var response = new PostWorkflowResultsResponse { Workflow = new Workflow { Id = request.WorkflowId } };
                foreach (var input in request.Inputs)
                {
                    response.Results.Add(new WorkflowResult
                    {
                        Id = "out-" + input.Id,
                        CreatedAt = FixedTime,
                        Input = input,
                        Outputs =
                        {
                            new Output
                            {
                                Model = new Model
                                {
                                    Id = request.WorkflowId,
                                    UserId = request.UserAppId?.UserId ?? string.Empty,
                                    AppId = request.UserAppId?.AppId ?? string.Empty,
                                    ModelVersion = new ModelVersion { Id = request.VersionId },
                                },
                                Data = input.Data,
                            },
                        },
                    });
                }

                return ValueTask.FromResult(response);
            });

            registry.Add<ListWorkflowsRequest, MultiWorkflowResponse>(nameof(V2.V2Base.ListWorkflows), (request, context) =>
            {
                var response = new MultiWorkflowResponse();
                foreach (var field in request.AdditionalFields)
                {
                    response.Workflows.Add(new Workflow
                    {
                        Id = field,
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
                                ["sort_by_id"] = Value.ForBool(request.SortById),
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
