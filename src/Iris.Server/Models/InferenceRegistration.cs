using System.Net;
using Iris.Inference;
using Iris.Server.Api;
using Iris.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Iris.Server.Models;

public static class InferenceRegistration
{
    /// <summary>The inference engine, the built-in models and the model RPCs (PostModelOutputs and the model reads).</summary>
    public static IServiceCollection AddIrisInference(this IServiceCollection services, IrisServerOptions options)
    {
        services.AddIrisInferenceEngine(options.DataDir);
        services.AddSingleton(sp =>
        {
            var inference = sp.GetRequiredService<InferenceOptions>();
            // Predict by URL: redirects followed (at most 5), no cookies, decompression on; timeouts per download.
            var handler = new SocketsHttpHandler
            {
                AllowAutoRedirect = true,
                MaxAutomaticRedirections = 5,
                UseCookies = false,
                AutomaticDecompression = DecompressionMethods.All,
                ConnectTimeout = inference.DownloadTimeout,
            };
            var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
            http.DefaultRequestHeaders.UserAgent.ParseAdd("Iris/1.0 (+predict by URL)");
            return new Predictor(sp.GetRequiredService<Inference.Engine.InferenceEngine>(), inference, http, sp);
        });
        services.AddSingleton<IApiModule, ModelsModule>();
        services.AddSingleton<Iris.Core.Apps.IAppLifecycleListener, InferenceAppLifecycle>();
        return services;
    }
}
