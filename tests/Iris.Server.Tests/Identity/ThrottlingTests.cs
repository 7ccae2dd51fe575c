using System.Net;
using Iris.Server.Identity;
using Iris.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Iris.Server.Tests.Identity;

/// <summary>With a request budget configured, a key over budget answers 11005 and HTTP 429 with Retry-After; other keys are unaffected.</summary>
public sealed class ThrottlingTests(ThrottlingTests.BudgetFixture iris) : IClassFixture<ThrottlingTests.BudgetFixture>, IDisposable
{
    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    [Fact]
    public async Task A_key_over_its_budget_gets_429_with_Retry_After()
    {
        // Burst of 3 at 0.01 requests per second: the 4th request within the test's lifetime is over budget.
        for (var i = 0; i < 3; i++)
        {
            var (ok, _, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, "/v2/users/me"));
            Assert.Equal(HttpStatusCode.OK, ok);
        }

        var (status, body, response) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, "/v2/users/me"));
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal(11005, body.Code());
        Assert.Equal("Making too many requests", body.Description());
        Assert.Matches("^This key is over its request budget; retry in [0-9]+ s\\.$", body.Details());
        var retryAfter = int.Parse(Assert.Single(response.Headers.GetValues("Retry-After")), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 100);

        var grpc = await iris.Grpc.GetUserAsync(new Clarifai.Api.GetUserRequest(), IrisFixture.PatMetadata);
        Assert.Equal(Clarifai.Api.Status.StatusCode.ConnThrottled, grpc.Status.Code);
        Assert.Contains(iris.Logs.Messages, m => m.StartsWith("Denied GetUser: status 11005", StringComparison.Ordinal));
    }

    public sealed class BudgetFixture : IrisFixture
    {
        protected override void ConfigureServices(IServiceCollection services) =>
            services.AddSingleton(new IdentityOptions { RateLimitPerSecond = 0.01, RateLimitBurst = 3 });
    }
}
