using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Clarifai.Api;
using Grpc.Net.Client;
using Iris.Server.Hosting;
using Iris.Server.Tests.Infrastructure;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Transport;

/// <summary>A self-signed certificate for 127.0.0.1 and localhost, written as PEM files into a temporary directory.</summary>
public sealed class SelfSignedCertificate : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("iris-tls-");

    public SelfSignedCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=iris-test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        Certificate = X509CertificateLoader.LoadCertificate(certificate.RawData);
        CertFile = Path.Combine(_dir.FullName, "iris.crt");
        KeyFile = Path.Combine(_dir.FullName, "iris.key");
        File.WriteAllText(CertFile, certificate.ExportCertificatePem());
        File.WriteAllText(KeyFile, key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>The public certificate, which clients trust as their only root.</summary>
    public X509Certificate2 Certificate { get; }

    public string CertFile { get; }

    public string KeyFile { get; }

    public string Dir => _dir.FullName;

    /// <summary>Accepts exactly a chain ending in this certificate with a matching name, as a client given it as root would.</summary>
    public bool Validate(X509Certificate? presented, SslPolicyErrors errors)
    {
        if (presented is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        return chain.Build(leaf);
    }

    public SocketsHttpHandler Handler() => new()
    {
        SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, cert, _, errors) => Validate(cert, errors) },
    };

    public void Dispose()
    {
        Certificate.Dispose();
        _dir.Delete(recursive: true);
    }
}

/// <summary>An Iris server serving both ports over TLS with a certificate made for the test.</summary>
public sealed class TlsFixture : IrisFixture, IAsyncLifetime
{
    public SelfSignedCertificate Tls { get; } = new();

    protected override void ConfigureOptions(IrisServerOptions options)
    {
        options.TlsCertFile = Tls.CertFile;
        options.TlsKeyFile = Tls.KeyFile;
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Tls.Dispose();
    }
}

/// <summary>TLS on both ports (CLARIFAI_FACTS.md 1: the SDKs' channels are TLS): gRPC with ALPN h2, REST as HTTPS with HTTP/1.1 and HTTP/2.</summary>
public sealed class TlsTests(TlsFixture iris) : IClassFixture<TlsFixture>, IDisposable
{
    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    [Fact]
    public async Task A_gRPC_channel_trusting_the_certificate_calls_over_TLS()
    {
        using var channel = GrpcChannel.ForAddress($"https://127.0.0.1:{iris.Server.GrpcPort}", new GrpcChannelOptions { HttpHandler = iris.Tls.Handler() });
        var client = new V2.V2Client(channel);

        var apps = await client.ListAppsAsync(new ListAppsRequest { UserAppId = new UserAppIDSet { UserId = "me" } }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, apps.Status.Code);

        var refused = await client.ListAppsAsync(new ListAppsRequest { UserAppId = new UserAppIDSet { UserId = "me" } },
            new global::Grpc.Core.Metadata { { "authorization", "Key 0123456789abcdef0123456789abcdef" } });
        Assert.Equal(StatusCode.ConnKeyNotFound, refused.Status.Code);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task REST_answers_over_HTTPS_with_HTTP_1_1_and_HTTP_2_chosen_by_ALPN(int major)
    {
        using var http = new HttpClient(iris.Tls.Handler())
        {
            BaseAddress = new Uri($"https://localhost:{iris.Server.HttpPort}"),
            DefaultRequestVersion = new Version(major, major == 1 ? 1 : 0),
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        var request = IrisFixture.Authorized(HttpMethod.Get, "/v2/users/me/apps");
        request.Version = http.DefaultRequestVersion;
        request.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
        var (status, json, response) = await Json.SendAsync(http, request);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(10000, json.Code());
        Assert.Equal(major, response.Version.Major);
    }

    [Fact]
    public async Task The_gRPC_port_also_speaks_gRPC_web_over_HTTP_1_1_with_TLS()
    {
        using var http = new HttpClient(iris.Tls.Handler()) { DefaultRequestVersion = HttpVersion.Version11, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        var request = new HttpRequestMessage(HttpMethod.Post, $"https://127.0.0.1:{iris.Server.GrpcPort}/clarifai.api.V2/ListStatusCodes")
        {
            Content = new ByteArrayContent([0, 0, 0, 0, 0]),
        };
        request.Content.Headers.ContentType = new("application/grpc-web");
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new Version(1, 1), response.Version);
        Assert.Equal("application/grpc-web", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadAsByteArrayAsync();
        var message = MultiStatusCodeResponseFrom(body);
        Assert.Equal(StatusCode.Success, message.Status.Code);
        Assert.Contains(message.Statuses, s => s.Code == StatusCode.ModelDoesNotExist);
    }

    [Fact]
    public async Task A_client_that_does_not_trust_the_certificate_is_refused_and_plaintext_gets_nothing()
    {
        using var strict = new HttpClient { BaseAddress = new Uri($"https://127.0.0.1:{iris.Server.HttpPort}") };
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => strict.GetAsync("/healthz"));
        Assert.IsType<AuthenticationException>(error.InnerException);

        using var plain = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{iris.Server.HttpPort}") };
        await Assert.ThrowsAsync<HttpRequestException>(() => plain.GetAsync("/healthz"));
    }

    private static MultiStatusCodeResponse MultiStatusCodeResponseFrom(byte[] body)
    {
        Assert.Equal(0, body[0]);
        var length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(body.AsSpan(1));
        return MultiStatusCodeResponse.Parser.ParseFrom(body.AsSpan(5, length));
    }
}

/// <summary>A certificate or key that cannot be used stops start-up with a message naming the setting and the file.</summary>
public sealed class TlsStartupTests : IDisposable
{
    private readonly SelfSignedCertificate _tls = new();

    public void Dispose() => _tls.Dispose();

    private IrisServerOptions Options(string? cert, string? key) => new()
    {
        DataDir = Path.Combine(_tls.Dir, "data"),
        HttpPort = 0,
        GrpcPort = 0,
        TlsCertFile = cert,
        TlsKeyFile = key,
    };

    [Fact]
    public void A_missing_key_file_is_named()
    {
        var missing = Path.Combine(_tls.Dir, "missing.key");
        var error = Assert.Throws<InvalidOperationException>(() => IrisServer.Create(Options(_tls.CertFile, missing)));
        Assert.Equal($"--tls-key / IRIS_TLS_KEY: the private key file '{missing}' does not exist.", error.Message);
    }

    [Fact]
    public void A_missing_certificate_file_is_named()
    {
        var missing = Path.Combine(_tls.Dir, "missing.crt");
        var error = Assert.Throws<InvalidOperationException>(() => IrisServer.Create(Options(missing, _tls.KeyFile)));
        Assert.Equal($"--tls-cert / IRIS_TLS_CERT: the certificate file '{missing}' does not exist.", error.Message);
    }

    [Fact]
    public void A_key_file_that_is_not_PEM_is_refused()
    {
        var bad = Path.Combine(_tls.Dir, "bad.key");
        File.WriteAllText(bad, "not a key\n");
        var error = Assert.Throws<InvalidOperationException>(() => IrisServer.Create(Options(_tls.CertFile, bad)));
        Assert.StartsWith($"--tls-cert / --tls-key: '{_tls.CertFile}' and '{bad}' are not a PEM certificate and its matching PEM private key", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_of_another_certificate_is_refused()
    {
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var otherKey = Path.Combine(_tls.Dir, "other.key");
        File.WriteAllText(otherKey, other.ExportPkcs8PrivateKeyPem());
        var error = Assert.Throws<InvalidOperationException>(() => IrisServer.Create(Options(_tls.CertFile, otherKey)));
        Assert.StartsWith($"--tls-cert / --tls-key: '{_tls.CertFile}' and '{otherKey}' are not a PEM certificate and its matching PEM private key", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Only_one_of_the_two_settings_is_refused(bool certOnly)
    {
        var options = certOnly ? Options(_tls.CertFile, null) : Options(null, _tls.KeyFile);
        var error = Assert.Throws<InvalidOperationException>(() => IrisServer.Create(options));
        Assert.Equal("TLS needs both --tls-cert (IRIS_TLS_CERT) and --tls-key (IRIS_TLS_KEY); only one is set.", error.Message);
    }
}
