using System.Net;
using System.Net.Sockets;
using Iris.Core.Fetching;
using Iris.Inference;
using Iris.Server.Tests.Infrastructure;
using Iris.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Iris.Server.Tests.Models;

/// <summary>
/// An Iris server whose converted models live in the shared models cache (<c>TestModels.Dir</c>: conversion happens
/// once), plus a loopback HTTP server that serves the package photographs for predict by URL.
/// </summary>
public class ModelsFixture : IrisFixture, IAsyncLifetime
{
    private readonly HttpListener _listener = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _serving;

    public static string MetroNorth => Path.Combine(RepoRoot.Path, "node_modules/clarifai-nodejs-grpc/tests/assets/metro-north.jpg");

    public static string FaceDetect => Path.Combine(RepoRoot.Path, "node_modules/@vladmandic/human/assets/screenshot-facedetect.jpg");

    public static string Vrm => Path.Combine(RepoRoot.Path, "node_modules/@vladmandic/human/assets/screenshot-vrm.jpg");

    /// <summary>Base URL of the photo server: <c>{PhotoBase}/metro-north.jpg</c>; any other name answers 404.</summary>
    public string PhotoBase { get; private set; } = string.Empty;

    protected override void ConfigureServices(IServiceCollection services)
    {
        services.AddSingleton(new InferenceOptions { ModelsDir = TestModels.Dir });
        // The photo server is on loopback: the operator setting that lets downloads reach private addresses.
        services.AddSingleton(new UrlFetcherOptions { AllowPrivateUrls = true });
    }

    public new async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var port = FreePort();
        PhotoBase = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(PhotoBase + "/");
        _listener.Start();
        _serving = ServeAsync();
    }

    public new async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        if (_serving is not null)
        {
            await _serving.ContinueWith(_ => { }, TaskScheduler.Default);
        }

        _listener.Close();
        _stop.Dispose();
        await base.DisposeAsync();
    }

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var context = await _listener.GetContextAsync();
            var name = context.Request.Url!.AbsolutePath.TrimStart('/');
            var path = name switch
            {
                "metro-north.jpg" => MetroNorth,
                "faces.jpg" => FaceDetect,
                _ => null,
            };
            if (path is null)
            {
                context.Response.StatusCode = 404;
            }
            else
            {
                var bytes = await File.ReadAllBytesAsync(path);
                context.Response.ContentType = "image/jpeg";
                await context.Response.OutputStream.WriteAsync(bytes);
            }

            context.Response.Close();
        }
    }

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }
}

/// <summary>The same server on PostgreSQL: the test classes that take this fixture run unchanged against it.</summary>
public sealed class PostgresModelsFixture : ModelsFixture
{
    protected override bool OnPostgres => true;
}
